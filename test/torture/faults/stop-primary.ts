/**
 * SIGSTOP of the primary: a hung host. Its connection stays open, so only a heartbeat
 * timeout tells the backup; the backup takes over, and when the old primary is
 * continued (SIGCONT) it must not serve any more (the lease, or its own timeout, fences it).
 */
import { sleep, type FaultKind } from './fault.js';

export const stopPrimary: FaultKind = {
  name: 'stop-primary',
  unavailable: (f) => (!f.heartbeat ? 'needs -ft-heartbeat (a stopped primary keeps its connection open)' : !f.lease ? 'needs -ft-lease (the continued primary must not serve too)' : false),
  needs: {},
  survivor: 'backup',
  inject: async ({ pair, note }) => {
    pair.primary.signal('SIGSTOP');
    note(`SIGSTOP primary (pid ${pair.primary.pid})`);
  },
  settle: async ({ pair, note }) => {
    pair.primary.signal('SIGCONT');
    note('SIGCONT primary');
    await sleep(3000); // time to fence itself, or to (wrongly) serve again
  },
};

/**
 * A short hang: SIGSTOP of the primary for a random 0.5-3 s (around the heartbeat's 1 s
 * silence limit and well inside the lease's ttl), then SIGCONT while the client keeps
 * talking. Whichever side runs on, exactly one may serve, and the client's chain of
 * answers must not break: a resumed primary that still believes in its lease must not
 * let out answers from a state the backup did not take over.
 */
export const pausePrimary: FaultKind = {
  name: 'pause-primary',
  unavailable: (f) => (!f.heartbeat ? 'needs -ft-heartbeat' : !f.lease ? 'needs -ft-lease' : false),
  needs: {},
  survivor: 'either',
  clientSeconds: 12,
  inject: async ({ pair, rng, note }) => {
    const ms = rng.int(500, 3000);
    pair.primary.signal('SIGSTOP');
    note(`SIGSTOP primary (pid ${pair.primary.pid}) for ${ms} ms`);
    await sleep(ms);
    pair.primary.signal('SIGCONT');
    note('SIGCONT primary');
  },
  settle: async () => { await sleep(3000); },
};
