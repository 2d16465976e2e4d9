// A first-in first-out queue whose take() is O(1). Array.prototype.shift moves every remaining element: a
// capture's baseline walk queues every path of the protected set, and with a million files the shifts alone
// kept the agent busy for many minutes before its mirror could start.

export class Fifo<T> {
  private items: T[];
  private head = 0;

  constructor(items: Iterable<T> = []) {
    this.items = [...items];
  }

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  take(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined as T; // no longer held
    // Drop the taken slots once they are half the array: each element is moved at most once per halving.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  toArray(): T[] {
    return this.items.slice(this.head);
  }
}
