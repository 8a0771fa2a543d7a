/**
 * The split-brain lease over a real lease file: acquisition, renewal, expiry decided by
 * watching the renewal counter (a VMM starting protection against another holder),
 * fencing by a newer token, refusal of wrong paths; the pair's contention after a loss
 * (primary first, backup first, an older pairing's backup, an unreachable store, what
 * the output gates are told); and what only separate processes can show: OFD-locked
 * read-modify-writes from several processes, a primary and a backup contending in two
 * processes round after round in both orders and interleaved at random, of which exactly
 * one wins every time, two contenders for an expired lease, and a SIGSTOPped holder that
 * on SIGCONT knows at once it may not emit, before it even learns it was fenced.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileLeaseStore } from '../../../src/ft/lease/file-lease-store.js';
import { FtLease, leaseMargin } from '../../../src/ft/lease/ft-lease.js';
import { LeaseFencedError, LeaseFormatError, LeaseUnreachableError } from '../../../src/ft/lease/errors.js';
import { decodeLeaseRecord, encodeLeaseRecord, LEASE_RECORD_BYTES, type LeaseRecord } from '../../../src/ft/lease/lease-record.js';
import { nativeImageLocker } from '../../../src/block/image-lock.js';
import { FreezableStore } from './freezable-store.js';
import type { LeaseStore } from '../../../src/ft/lease/lease-store.js';

const skip = nativeImageLocker() ? undefined : 'native addon not built (OFD locks)';
const TTL = 600;
const WATCH = TTL + leaseMargin(TTL);

function tempLease(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-lease-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'vm.lease');
}

function readRecord(path: string): LeaseRecord | undefined {
  return decodeLeaseRecord(readFileSync(path), path);
}

test('the record format: fixed size, round trip, refuses what is not a lease', () => {
  const r: LeaseRecord = { leaseId: 'ab12', token: 7, holder: 'h:1/x', role: 'backup', renewals: 3, ttlMs: 5000, alone: false };
  const bytes = encodeLeaseRecord(r);
  assert.equal(bytes.length, LEASE_RECORD_BYTES);
  assert.deepEqual(decodeLeaseRecord(bytes, 'f'), r);
  assert.equal(decodeLeaseRecord(Buffer.alloc(0), 'f'), undefined);
  assert.throws(() => decodeLeaseRecord(Buffer.from('hello\n'), 'f'), /f is not a cuju lease file/);
  assert.throws(() => decodeLeaseRecord(Buffer.from('{"token":1}'), 'f'), /not a cuju lease file/);
  assert.throws(() => decodeLeaseRecord(Buffer.from(JSON.stringify({ 'cuju-ft-lease': 1, 'lease-id': 'a', token: 0, holder: 'h', role: 'primary', renewals: 0, 'ttl-ms': 1 })), 'f'), /token is 0/);
  assert.throws(() => decodeLeaseRecord(Buffer.from(JSON.stringify({ 'cuju-ft-lease': 1, 'lease-id': 'a', token: 1, holder: 'h', role: 'primary', renewals: 0, 'ttl-ms': 1, alone: 'yes' })), 'f'), /alone is "yes"/);
  // A record without the flag (written before it existed) reads as not alone.
  assert.equal(decodeLeaseRecord(Buffer.from(JSON.stringify({ 'cuju-ft-lease': 1, 'lease-id': 'a', token: 1, holder: 'h', role: 'primary', renewals: 0, 'ttl-ms': 1 })), 'f')?.alone, false);
});

test('a fresh lease file: created with token 1 and a lease id, held, renewed', { skip }, async (t) => {
  const path = tempLease(t);
  const a = new FtLease(new FileLeaseStore(path), { ttlMs: TTL });
  t.after(() => a.stop());
  assert.equal(a.mayEmit(), true, 'a VMM that never held the lease is a plain VM');
  const r = await a.obtain('primary');
  assert.equal(r.kind, 'acquired');
  assert.equal(r.record?.token, 1);
  assert.equal(a.valid(), true);
  const onDisk = readRecord(path)!;
  assert.deepEqual({ ...onDisk }, { leaseId: a.leaseId, token: 1, holder: a.holder, role: 'primary', renewals: 0, ttlMs: TTL, alone: true });
  await a.renew();
  assert.equal(readRecord(path)!.renewals, 1);
  // Renewals run on their own every ttl/3.
  await sleep(TTL);
  assert.ok(readRecord(path)!.renewals >= 2, 'renewed by its timer');
  assert.equal(a.status().holder, a.holder);
  assert.equal(a.status().token, 1);
});

test('unreachable or wrong lease paths are refused with a clear message and never written', { skip }, async (t) => {
  const path = tempLease(t);
  const probe = (p: string) => new FtLease(new FileLeaseStore(p), { ttlMs: TTL }).probe();
  await assert.rejects(probe('/nonexistent-cuju-folder/vm.lease'), (e: Error) => e instanceof LeaseUnreachableError && /the lease file \/nonexistent-cuju-folder\/vm\.lease cannot be opened for writing: its folder \/nonexistent-cuju-folder does not exist/.test(e.message));
  await assert.rejects(probe(join(path, '..')), (e: Error) => e instanceof LeaseUnreachableError && /it is a folder/.test(e.message));
  const image = path + '.img';
  const content = Buffer.alloc(1 << 20, 0xab);
  writeFileSync(image, content);
  await assert.rejects(new FtLease(new FileLeaseStore(image), { ttlMs: TTL }).obtain('primary'), (e: Error) => e instanceof LeaseFormatError && /not a cuju lease file \(it holds 1048576 bytes/.test(e.message));
  assert.ok(readFileSync(image).equals(content), 'the image was not touched');
  writeFileSync(path, 'some notes\n');
  await assert.rejects(new FtLease(new FileLeaseStore(path), { ttlMs: TTL }).obtain('primary'), LeaseFormatError);
  assert.equal(readFileSync(path, 'utf8'), 'some notes\n');
});

test('a contender facing a live holder stands down; the holder keeps its lease', { skip }, async (t) => {
  const path = tempLease(t);
  const a = new FtLease(new FileLeaseStore(path), { ttlMs: TTL });
  const b = new FtLease(new FileLeaseStore(path), { ttlMs: TTL });
  t.after(() => { a.stop(); b.stop(); });
  await a.obtain('primary');
  const r = await b.obtain('backup');
  assert.equal(r.kind, 'held');
  assert.equal(r.record?.holder, a.holder);
  assert.equal(r.record?.token, 1);
  assert.equal(a.valid(), true);
  assert.equal(readRecord(path)!.holder, a.holder);
});

test('a holder that stops renewing: the contender takes over only after watching ttl + margin, and the holder, running again, is fenced', { skip }, async (t) => {
  const path = tempLease(t);
  const aStore = new FreezableStore(new FileLeaseStore(path));
  const a = new FtLease(aStore, { ttlMs: TTL });
  const b = new FtLease(new FileLeaseStore(path), { ttlMs: TTL });
  t.after(() => { a.stop(); b.stop(); });
  const fenced: unknown[] = [];
  a.on('fenced', (by) => fenced.push(by));
  await a.obtain('primary');
  aStore.freeze();
  const start = performance.now();
  const r = await b.obtain('backup');
  const took = performance.now() - start;
  assert.equal(r.kind, 'acquired');
  assert.equal(r.record?.token, 2);
  assert.equal(r.record?.leaseId, a.leaseId, 'the lease keeps its identity');
  assert.ok(took >= WATCH, `took over after ${took} ms, before watching ${WATCH} ms`);
  assert.equal(a.mayEmit(), false, 'the stalled holder counts itself lease-less by the time the contender takes over');
  assert.equal(a.state, 'held', 'it has not learnt of the takeover yet');
  aStore.unfreeze();
  for (let i = 0; i < 100 && fenced.length === 0; i++) await sleep(20);
  assert.deepEqual(fenced, [{ token: 2, holder: b.holder, ownToken: 1 }]);
  assert.equal(a.state, 'fenced');
  assert.equal(a.mayEmit(), false);
  await assert.rejects(a.obtain('primary'), LeaseFencedError);
  assert.equal(b.valid(), true);
  assert.equal(readRecord(path)!.holder, b.holder);
});

test('a renewal that finds a newer fencing token fences the holder', { skip }, async (t) => {
  const path = tempLease(t);
  const store = new FileLeaseStore(path);
  const a = new FtLease(store, { ttlMs: TTL });
  t.after(() => a.stop());
  const fenced: unknown[] = [];
  a.on('fenced', (by) => fenced.push(by));
  await a.obtain('primary');
  await store.update((cur) => ({ ...cur!, token: cur!.token + 1, holder: 'elsewhere:1/peer', renewals: 0 }));
  await a.renew();
  assert.deepEqual(fenced, [{ token: 2, holder: 'elsewhere:1/peer', ownToken: 1 }]);
  assert.equal(a.mayEmit(), false);
  assert.equal(readRecord(path)!.holder, 'elsewhere:1/peer', 'the fenced holder wrote nothing');
});

/** A protected pair on one lease file: the primary holds it and began a pairing; the backup read the pairing's token. */
async function pairedLeases(t: { after(fn: () => void): void }, path: string, primaryStore?: LeaseStore) {
  const primary = new FtLease(primaryStore ?? new FileLeaseStore(path), { ttlMs: TTL, holder: 'hosta:1/primary' });
  const backup = new FtLease(new FileLeaseStore(path), { ttlMs: TTL, holder: 'hostb:2/backup' });
  t.after(() => { primary.stop(); backup.stop(); });
  await primary.obtain('primary');
  const paired = await primary.beginPairing();
  const seen = await backup.pairWith();
  assert.equal(seen.token, paired.token);
  return { primary, backup, token: paired.token };
}

test('a pairing takes a new fencing token and clears alone; the gates: acked output always, the rest only from a holder running alone', { skip }, async (t) => {
  const path = tempLease(t);
  const a = new FtLease(new FileLeaseStore(path), { ttlMs: TTL });
  t.after(() => a.stop());
  await a.obtain('primary');
  assert.equal(readRecord(path)!.alone, true, 'a holder that never paired runs alone');
  assert.equal(a.mayEmit(false), true, 'so its unprotected output passes');
  const r = await a.beginPairing();
  assert.equal(r.token, 2, 'each pairing has its own token');
  assert.equal(readRecord(path)!.alone, false);
  assert.equal(a.mayEmit(true), true, 'acknowledged output needs no lease');
  assert.equal(a.mayEmit(false), false, 'unprotected output waits for a won contention');
  const again = await a.beginPairing();
  assert.equal(again.token, 3, 'a later pairing: a new token again');
  const won = await a.contend('primary');
  assert.equal(won.kind, 'won');
  assert.equal(a.mayEmit(false), true);
  assert.equal(a.token, 3, 'winning as the primary keeps the token');
  assert.deepEqual(a.status().lastContention, { role: 'primary', won: true, token: 3, holder: a.holder });
});

test('contention, primary first: it runs on alone; the backup then loses and stands down', { skip }, async (t) => {
  const path = tempLease(t);
  const { primary, backup, token } = await pairedLeases(t, path);
  const p = await primary.contend('primary');
  assert.equal(p.kind, 'won');
  assert.deepEqual({ ...readRecord(path)!, renewals: 0 }, { leaseId: primary.leaseId, token, holder: primary.holder, role: 'primary', renewals: 0, ttlMs: TTL, alone: true });
  const b = await backup.contend('backup');
  assert.equal(b.kind, 'lost');
  assert.match(b.kind === 'lost' ? b.why : '', /^the primary hosta:1\/primary declared it runs on alone \(it won the lease file .*, token \d+\)$/);
  assert.equal(backup.state, 'idle');
  assert.equal(readRecord(path)!.holder, primary.holder, 'the loser wrote nothing');
  assert.equal(primary.mayEmit(false), true);
});

test('contention, backup first: it takes the next token; the primary then loses, is fenced and may emit nothing unacknowledged', { skip }, async (t) => {
  const path = tempLease(t);
  const { primary, backup, token } = await pairedLeases(t, path);
  const fenced: unknown[] = [];
  primary.on('fenced', (by) => fenced.push(by));
  const b = await backup.contend('backup');
  assert.equal(b.kind, 'won');
  assert.deepEqual(readRecord(path), { leaseId: primary.leaseId, token: token + 1, holder: backup.holder, role: 'backup', renewals: 0, ttlMs: TTL, alone: true });
  assert.equal(backup.state, 'held');
  assert.equal(backup.mayEmit(false), true, 'the winner runs alone');
  const p = await primary.contend('primary');
  assert.equal(p.kind, 'lost');
  assert.deepEqual(fenced, [{ token: token + 1, holder: backup.holder, ownToken: token }]);
  assert.equal(primary.state, 'fenced');
  assert.equal(primary.mayEmit(false), false);
  assert.equal(primary.mayEmit(true), false, 'fenced: nothing at all');
  // Retrying is harmless: the winner still wins, the loser still loses.
  assert.equal((await backup.contend('backup')).kind, 'won');
  assert.equal((await primary.contend('primary')).kind, 'lost');
  assert.equal(readRecord(path)!.token, token + 1);
});

test('a backup of an older pairing can never win: the primary paired again with a new token', { skip }, async (t) => {
  const path = tempLease(t);
  const { primary, backup: stale } = await pairedLeases(t, path);
  // The primary lost that backup, won, and paired a new one.
  assert.equal((await primary.contend('primary')).kind, 'won');
  const newer = await primary.beginPairing();
  const r = await stale.contend('backup');
  assert.equal(r.kind, 'lost');
  assert.match(r.kind === 'lost' ? r.why : '', new RegExp(`has moved on to fencing token ${newer.token} held by hosta:1/primary \\(this pairing had token ${newer.token - 1}\\)`));
  assert.equal(readRecord(path)!.holder, primary.holder);
});

test('an unreachable store: contention rejects (nobody may release or take over), and a retry after the store answers decides as usual', { skip }, async (t) => {
  const path = tempLease(t);
  const pStore = new FreezableStore(new FileLeaseStore(path));
  const primary = new FtLease(pStore, { ttlMs: TTL, startTimeoutMs: 200 });
  const backup = new FtLease(new FileLeaseStore(path), { ttlMs: TTL });
  t.after(() => { primary.stop(); backup.stop(); });
  await primary.obtain('primary');
  await primary.beginPairing();
  await backup.pairWith();
  pStore.freeze();
  await assert.rejects(primary.contend('primary'), (e: Error) => e instanceof LeaseUnreachableError && /did not answer within 200 ms \(contend\)/.test(e.message));
  assert.equal(primary.mayEmit(false), false);
  assert.equal((await backup.contend('backup')).kind, 'won');
  pStore.unfreeze();
  const late = await primary.contend('primary');
  assert.equal(late.kind, 'lost');
  assert.equal(primary.state, 'fenced');
});

test('the shared-disk write fence: a write runs under the lease lock, a backup contending meanwhile waits for it, and after the backup won no write runs again', { skip }, async (t) => {
  const path = tempLease(t);
  const { primary, backup } = await pairedLeases(t, path);
  const order: string[] = [];
  let finishWrite!: () => void;
  const writing = primary.fenced(async () => {
    order.push('write start');
    await new Promise<void>((resolve) => { finishWrite = resolve; });
    order.push('write end');
  });
  await until(() => order.length === 1, 'the fenced write to start');
  const contention = backup.contend('backup').then((r) => { order.push(`backup ${r.kind}`); return r; });
  await sleep(100);
  assert.deepEqual(order, ['write start'], 'the backup cannot win while the write runs');
  finishWrite();
  assert.equal(await writing, true);
  assert.equal((await contention).kind, 'won');
  assert.deepEqual(order, ['write start', 'write end', 'backup won']);
  let ran = false;
  assert.equal(await primary.fenced(async () => { ran = true; }), false);
  assert.equal(ran, false, 'a write after the backup won never runs');
  assert.equal(primary.state, 'fenced');
});

interface PairChild { child: Child; send(line: string): void; next(): Promise<Record<string, unknown>> }

function pairChild(role: 'primary' | 'backup', path: string, holder: string): PairChild {
  const proc = spawn(process.execPath, [CHILD, 'pair', role, path, holder], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  const waiting: ((l: Record<string, unknown>) => void)[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => {
    const o = JSON.parse(l) as Record<string, unknown>;
    const w = waiting.shift();
    if (w) w(o);
    else lines.push(o);
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return {
    child: { proc, lines, exited },
    send: (line) => proc.stdin!.write(line + '\n'),
    next: () => {
      const o = lines.shift();
      return o ? Promise.resolve(o) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

test('a primary and a backup in two processes contend under the OFD lock: exactly one wins, every round, in either order and interleaved at random', { skip, timeout: 180_000 }, async (t) => {
  const path = tempLease(t);
  const P = 'hosta:1/primary';
  const B = 'hostb:2/backup';
  const primary = pairChild('primary', path, P);
  const backup = pairChild('backup', path, B);
  t.after(() => { primary.child.proc.kill('SIGKILL'); backup.child.proc.kill('SIGKILL'); });
  const store = new FileLeaseStore(path);
  const wins = { primary: 0, backup: 0 };
  const ROUNDS = 60;
  for (let round = 0; round < ROUNDS; round++) {
    // A lease the primary holds alone, as after an earlier round; both sides join a new pairing.
    const base = 10 * round + 1;
    await store.update(() => ({ leaseId: 'cafe', token: base, holder: P, role: 'primary', renewals: 0, ttlMs: 60_000, alone: true }));
    primary.send('setup');
    assert.deepEqual(await primary.next(), { ready: base + 1 });
    backup.send('setup');
    assert.deepEqual(await backup.next(), { ready: base + 1 });
    const T = base + 1;
    let results: Record<string, unknown>[];
    const order = round % 3; // 0: primary first, 1: backup first, 2: both at once, random order and delay
    if (order === 0) {
      primary.send('go');
      const p = await primary.next();
      backup.send('go');
      results = [p, await backup.next()];
    } else if (order === 1) {
      backup.send('go');
      const b = await backup.next();
      primary.send('go');
      results = [await primary.next(), b];
    } else {
      const [first, second] = Math.random() < 0.5 ? [primary, backup] : [backup, primary];
      first.send('go');
      const gap = Math.floor(Math.random() * 4);
      if (gap > 0) await sleep(gap);
      second.send('go');
      const [a, b] = await Promise.all([first.next(), second.next()]);
      results = first === primary ? [a, b] : [b, a];
    }
    const [p, b] = results;
    const what = `round ${round}: primary ${JSON.stringify(p)}, backup ${JSON.stringify(b)}`;
    assert.equal([p.kind, b.kind].filter((k) => k === 'won').length, 1, what);
    assert.equal([p.kind, b.kind].filter((k) => k === 'lost').length, 1, what);
    const final = readRecord(path)!;
    if (p.kind === 'won') {
      wins.primary++;
      assert.deepEqual({ token: final.token, holder: final.holder, alone: final.alone }, { token: T, holder: P, alone: true }, what);
      assert.deepEqual({ token: b.token, holder: b.holder, alone: b.alone }, { token: T, holder: P, alone: true }, `${what}: the losing backup saw the primary's write`);
    } else {
      wins.backup++;
      assert.deepEqual({ token: final.token, holder: final.holder, alone: final.alone }, { token: T + 1, holder: B, alone: true }, what);
      assert.deepEqual({ token: p.token, holder: p.holder }, { token: T + 1, holder: B }, `${what}: the losing primary saw the backup's write`);
    }
    if (order === 0) assert.equal(p.kind, 'won', `${what}: the first to contend wins`);
    if (order === 1) assert.equal(b.kind, 'won', `${what}: the first to contend wins`);
  }
  primary.child.proc.stdin!.end();
  backup.child.proc.stdin!.end();
  assert.deepEqual(await Promise.all([primary.child.exited, backup.child.exited]), [0, 0]);
  t.diagnostic(`wins over ${ROUNDS} rounds: primary ${wins.primary}, backup ${wins.backup}`);
});

const CHILD = fileURLToPath(new URL('./lease-child.js', import.meta.url));

interface Child { proc: ChildProcess; lines: Record<string, unknown>[]; exited: Promise<number | null> }

function child(args: string[]): Child {
  const proc = spawn(process.execPath, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return { proc, lines, exited };
}

async function until(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

test('read-modify-writes from 4 processes at once are serialised by the OFD lock', { skip, timeout: 60_000 }, async (t) => {
  const path = tempLease(t);
  const kids = Array.from({ length: 4 }, () => child(['count', path, '40']));
  const codes = await Promise.all(kids.map((k) => k.exited));
  assert.deepEqual(codes, [0, 0, 0, 0]);
  assert.equal(readRecord(path)!.renewals, 160, 'no update was lost');
});

test('two processes contend for an expired lease: exactly one takes it', { skip, timeout: 60_000 }, async (t) => {
  const path = tempLease(t);
  const ghost = new FileLeaseStore(path);
  await ghost.update(() => ({ leaseId: 'feed', token: 5, holder: 'ghost:1/gone', role: 'primary', renewals: 9, ttlMs: 400, alone: true }));
  const kids = [child(['contend', path, '400']), child(['contend', path, '400'])];
  await Promise.all(kids.map((k) => k.exited));
  const results = kids.map((k) => k.lines[0] as { kind: string; token: number; holder: string; self: string });
  const winners = results.filter((r) => r.kind === 'acquired');
  assert.equal(winners.length, 1, JSON.stringify(results));
  const loser = results.find((r) => r.kind !== 'acquired')!;
  assert.equal(loser.kind, 'held');
  assert.equal(loser.holder, winners[0].self, 'the loser saw the winner hold it');
  const final = readRecord(path)!;
  assert.equal(final.token, 6);
  assert.equal(final.holder, winners[0].self);
  assert.equal(final.leaseId, 'feed');
});

test('a SIGSTOPped holder: the contender takes over, and on SIGCONT the holder knows at once it may not emit, then finds itself fenced', { skip, timeout: 60_000 }, async (t) => {
  const path = tempLease(t);
  const holder = child(['hold', path, String(TTL)]);
  t.after(() => holder.proc.kill('SIGKILL'));
  const ticks = () => holder.lines.filter((l) => 't' in l) as { t: number; emit: boolean; state: string }[];
  await until(() => ticks().length >= 5, 'the holder to run');
  assert.ok(ticks().every((l) => l.emit), 'a renewing holder may emit');
  holder.proc.kill('SIGSTOP');
  const b = new FtLease(new FileLeaseStore(path), { ttlMs: TTL });
  t.after(() => b.stop());
  const r = await b.obtain('backup');
  assert.equal(r.kind, 'acquired');
  assert.equal(r.record?.token, 2);
  holder.proc.kill('SIGCONT');
  await until(() => holder.lines.some((l) => 'fenced' in l), 'the resumed holder to find itself fenced');
  await until(() => ticks().some((l) => l.state === 'fenced'), 'a tick after the fencing');
  const all = ticks();
  // The first tick after the stop is the first one after a gap far longer than 20 ms.
  const resumed = all.findIndex((l, i) => i > 0 && l.t - all[i - 1].t > WATCH * 0.8);
  assert.ok(resumed > 0, 'a gap in the ticks shows the stop');
  assert.ok(all.slice(0, resumed).every((l) => l.emit), 'before the stop it emitted');
  const after = all.slice(resumed);
  assert.deepEqual(after.filter((l) => l.emit), [], 'after SIGCONT it never emitted, not even before learning of the takeover');
  const fence = holder.lines.find((l) => 'fenced' in l) as { fenced: { token: number; holder: string } };
  assert.equal(fence.fenced.token, 2);
  assert.equal(fence.fenced.holder, b.holder);
  assert.equal(readRecord(path)!.holder, b.holder);
});

test('the lock is held under a hold deadline: armed before the lock is taken, ended only after the close dropped it', { skip }, async (t) => {
  const path = tempLease(t);
  const events: string[] = [];
  const locker = nativeImageLocker()!;
  const lockFreeNow = (): boolean => {
    const fd = openSync(path, 'r+');
    try {
      return locker.lock(fd, true);
    } finally {
      closeSync(fd);
    }
  };
  let armed = 0;
  const store = new FileLeaseStore(path, {
    holdDeadlineMs: 1234,
    deadline: {
      arm(ms) {
        armed++;
        events.push(`arm ${ms}`);
        return () => {
          armed--;
          events.push(`end, lock free: ${lockFreeNow()}`);
        };
      },
    },
  });
  await store.update(() => ({ leaseId: 'dl', token: 1, holder: 'h', role: 'primary', renewals: 0, ttlMs: 1234, alone: true }));
  await store.whileLocked(() => true, async () => { events.push(`write, lock free: ${lockFreeNow()}, deadlines armed: ${armed}`); });
  await store.whileLocked(() => false, async () => { events.push('never'); });
  assert.deepEqual(events, [
    'arm 1234', 'end, lock free: true',
    'arm 1234', 'write, lock free: false, deadlines armed: 1', 'end, lock free: true',
    'arm 1234', 'end, lock free: true',
  ]);
  await assert.rejects(store.whileLocked(() => true, async () => { throw new Error('the image failed'); }), /the image failed/);
  assert.equal(events.at(-1), 'end, lock free: true', 'a failing write ends its deadline too');
  // Waiting for another holder's lock: each failed attempt ends its deadline at once.
  const fd = openSync(path, 'r+');
  assert.equal(locker.lock(fd, true), true);
  const waiting = store.update(() => undefined);
  await sleep(50);
  assert.ok(armed <= 1, `at most the current attempt is armed (${armed})`);
  closeSync(fd);
  await waiting;
  assert.equal(armed, 0, 'nothing stays armed');
});

test('a lock held for half its deadline is reported while the process still runs', { skip }, async (t) => {
  const path = tempLease(t);
  const lines: string[] = [];
  const store = new FileLeaseStore(path, { holdDeadlineMs: 200, deadline: { arm: () => () => {} }, log: (l) => lines.push(l) });
  await store.update(() => ({ leaseId: 'slow', token: 1, holder: 'h', role: 'primary', renewals: 0, ttlMs: 200, alone: true }));
  assert.deepEqual(lines, [], 'a quick update says nothing');
  await store.whileLocked(() => true, () => sleep(150));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /warning: this VMM has held the lease file .*vm\.lease's lock for 100 ms \(slow storage\?\); at 200 ms \(the lease's ttl\) its kernel kills it/);
});

test('a primary frozen inside the shared-disk write fence is killed by its kernel at its ttl, and the backup then wins the lease', { skip, timeout: 60_000 }, async (t) => {
  const path = tempLease(t);
  const ttl = 1000;
  const proc = spawn(process.execPath, [CHILD, 'fence-write', path, String(ttl), 'hosta:1/primary'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(JSON.parse(l) as Record<string, unknown>));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => proc.on('exit', (_code, signal) => resolve(signal)));
  t.after(() => proc.kill('SIGKILL'));
  await until(() => lines.some((l) => 'ready' in l), 'the primary to pair');
  const pairToken = (lines.find((l) => 'ready' in l) as { ready: number }).ready;
  const backup = new FtLease(new FileLeaseStore(path, { lockTimeoutMs: 200 }), { ttlMs: ttl, holder: 'hostb:2/backup' });
  t.after(() => backup.stop());
  assert.equal((await backup.pairWith()).token, pairToken);
  proc.stdin!.write('write\n');
  await until(() => lines.some((l) => 'writing' in l), 'the fenced write to start');
  proc.kill('SIGSTOP');
  const stopped = performance.now();
  let outcome;
  let busy = 0;
  for (;;) {
    try {
      outcome = await backup.contend('backup');
      break;
    } catch (e) {
      assert.ok(e instanceof LeaseUnreachableError && /stayed locked by another process/.test(e.message), (e as Error).message);
      busy++;
      assert.ok(performance.now() - stopped < ttl + 10_000, 'the lock stayed held far past the primary\'s deadline');
    }
  }
  const waited = performance.now() - stopped;
  assert.equal(outcome.kind, 'won');
  assert.equal(outcome.record.token, pairToken + 1);
  assert.ok(busy > 0, 'the frozen primary held the lock at first');
  assert.ok(waited >= ttl * 0.8, `won only once the primary's deadline passed (after ${Math.round(waited)} ms)`);
  assert.equal(await exited, 'SIGKILL', 'the frozen primary was killed, so it can write nothing later');
  assert.ok(!lines.some((l) => 'written' in l), 'its write never finished');
  assert.equal(readRecord(path)!.holder, 'hostb:2/backup');
});

test('a lock attempt that fails (fcntl error) leaves no deadline armed', { skip }, async (t) => {
  const path = tempLease(t);
  let armed = 0;
  const store = new FileLeaseStore(path, {
    locker: { lock: () => { throw new Error('fcntl(F_OFD_SETLK): EIO'); } },
    deadline: { arm: () => { armed++; return () => { armed--; }; } },
  });
  await assert.rejects(store.update(() => undefined), (e: Error) => e instanceof LeaseUnreachableError && /could not be read or written: fcntl\(F_OFD_SETLK\): EIO/.test(e.message));
  assert.equal(armed, 0);
});
