// Wakes long polls when a command is queued for a server. In-process only: other hub instances notice within a second.
export interface CommandWaker {
  /** Resolves true when woken, false on timeout or abort. */
  wait(serverId: string, ms: number, signal?: AbortSignal): Promise<boolean>;
  wake(serverId: string): void;
}

export function createCommandWaker(): CommandWaker {
  const waiters = new Map<string, Set<() => void>>();
  // A wake that finds no waiter (the poll is between two waits, or not yet in one) is kept for the next wait.
  const missed = new Set<string>();
  return {
    wait(serverId, ms, signal) {
      if (missed.delete(serverId)) return Promise.resolve(true);
      return new Promise((resolve) => {
        const set = waiters.get(serverId) ?? new Set();
        waiters.set(serverId, set);
        let woken = false;
        const done = () => {
          clearTimeout(timer);
          set.delete(wake);
          if (set.size === 0) waiters.delete(serverId);
          signal?.removeEventListener('abort', done);
          resolve(woken);
        };
        const timer = setTimeout(done, ms);
        const wake = () => { woken = true; done(); };
        set.add(wake);
        signal?.addEventListener('abort', done);
      });
    },
    wake(serverId) {
      const set = waiters.get(serverId);
      if (!set?.size) {
        missed.add(serverId);
        return;
      }
      for (const w of [...set]) w();
    },
  };
}
