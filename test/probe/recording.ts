/** Test support: a ProbeClient decorator that remembers the ids whose writes were acknowledged. */
import type { ProbeClient } from '../../src/probe/types.js';

/** Wraps `inner`; `ids` receives each id once its write resolved, in order. */
export function recordingClient(inner: ProbeClient, ids: string[]): ProbeClient {
  return {
    engine: inner.engine,
    connect: () => inner.connect(),
    write: async (id, value) => {
      await inner.write(id, value);
      ids.push(id);
    },
    read: (id) => inner.read(id),
    readMany: (list) => inner.readMany(list),
    rediscover: () => inner.rediscover(),
    close: () => inner.close(),
  };
}
