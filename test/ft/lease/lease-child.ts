/**
 * A lease party in a process of its own (file-lease.test.ts): OFD locks and SIGSTOP are
 * only meaningful across processes. Modes:
 *   count PATH K      K read-modify-writes that each add 1 to the renewal counter
 *   contend PATH TTL  obtain the lease as a backup; prints {"kind":..,"token":..}
 *   hold PATH TTL     obtain it as a primary, then every 20 ms print {"t":..,"emit":..,"state":..}
 *   pair primary|backup PATH HOLDER
 *                     one side of a protected pair, round after round, driven by stdin lines:
 *                     "setup": a fresh FtLease named HOLDER joins the pairing (primary: obtain
 *                     + beginPairing; backup: pairWith), prints {"ready":token};
 *                     "go": contends once, prints {"kind":..,"token":..,"holder":..,"alone":..}
 *   fence-write PATH TTL HOLDER
 *                     a protected primary (obtain + beginPairing, prints {"ready":token}) that on
 *                     the stdin line "write" enters the shared-disk write fence with a write that
 *                     prints {"writing":true} and then takes 120 s; prints {"written":ran} after
 * Every line on stdout is one JSON object.
 */
import { createInterface } from 'node:readline';
import { FileLeaseStore } from '../../../src/ft/lease/file-lease-store.js';
import { FtLease } from '../../../src/ft/lease/ft-lease.js';

const [mode, path, arg] = process.argv.slice(2);
const say = (o: unknown) => process.stdout.write(JSON.stringify(o) + '\n');
const store = new FileLeaseStore(path, { lockTimeoutMs: 10_000 });

if (mode === 'count') {
  for (let i = 0; i < Number(arg); i++) {
    await store.update((cur) => cur
      ? { ...cur, renewals: cur.renewals + 1 }
      : { leaseId: 'counter', token: 1, holder: 'nobody', role: 'primary', renewals: 1, ttlMs: 1000, alone: true });
  }
  say({ done: true });
} else if (mode === 'contend') {
  const lease = new FtLease(store, { ttlMs: Number(arg) });
  const r = await lease.obtain('backup');
  say({ kind: r.kind, token: r.record?.token, holder: r.record?.holder, self: lease.holder });
  lease.stop();
} else if (mode === 'hold') {
  const lease = new FtLease(store, { ttlMs: Number(arg) });
  lease.on('fenced', (by: unknown) => say({ fenced: by }));
  const r = await lease.obtain('primary');
  say({ obtained: r.kind, token: r.record?.token });
  setInterval(() => say({ t: performance.now(), emit: lease.mayEmit(), state: lease.state }), 20);
} else if (mode === 'pair') {
  const [role, file, holder] = [path, arg, process.argv[5]] as ['primary' | 'backup', string, string];
  const pairStore = new FileLeaseStore(file, { lockTimeoutMs: 10_000 });
  let lease: FtLease | undefined;
  const lines = createInterface({ input: process.stdin });
  // One command at a time, in order.
  let chain = Promise.resolve();
  lines.on('line', (line) => {
    chain = chain.then(async () => {
      if (line === 'setup') {
        lease?.stop();
        lease = new FtLease(pairStore, { ttlMs: 60_000, holder });
        if (role === 'primary') {
          await lease.obtain('primary');
          say({ ready: (await lease.beginPairing()).token });
        } else {
          say({ ready: (await lease.pairWith()).token });
        }
      } else if (line === 'go') {
        const r = await lease!.contend(role);
        say({ kind: r.kind, token: r.record?.token, holder: r.record?.holder, alone: r.record?.alone });
      }
    }).catch((e: Error) => { say({ error: e.message }); });
  });
  lines.on('close', () => { void chain.then(() => { lease?.stop(); }); });
} else if (mode === 'fence-write') {
  const ttlMs = Number(arg);
  const holder = process.argv[5];
  const lease = new FtLease(new FileLeaseStore(path, { lockTimeoutMs: 10_000, holdDeadlineMs: ttlMs }), { ttlMs, holder });
  await lease.obtain('primary');
  say({ ready: (await lease.beginPairing()).token });
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line !== 'write') return;
    void lease.fenced(async () => {
      say({ writing: true });
      await new Promise((resolve) => setTimeout(resolve, 120_000));
    }).then((ran) => say({ written: ran }));
  });
} else {
  throw new Error(`unknown mode ${mode}`);
}
