// Wakes long polls when a command is queued for a server. In-process only: other hub instances notice within a second.
export interface CommandWaker {
  wait(serverId: string, ms: number, signal?: AbortSignal): Promise<void>;
  wake(serverId: string): void;
}

export function createCommandWaker(): CommandWaker {
  const waiters = new Map<string, Set<() => void>>();
  return {
    wait(serverId, ms, signal) {
      return new Promise((resolve) => {
        const set = waiters.get(serverId) ?? new Set();
        waiters.set(serverId, set);
        const done = () => {
          clearTimeout(timer);
          set.delete(done);
          if (set.size === 0) waiters.delete(serverId);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, ms);
        set.add(done);
        signal?.addEventListener('abort', done);
      });
    },
    wake(serverId) {
      for (const w of [...(waiters.get(serverId) ?? [])]) w();
    },
  };
}
