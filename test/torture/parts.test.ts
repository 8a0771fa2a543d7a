/**
 * The torture suite's parts, without a guest: the seeded generator, feature detection
 * from help text, the round plan, the damaging relay, the backup's network namespace
 * (root only) and the host-side log check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SeededRandom } from '../helpers/seeded-random.js';
import { flagReady, parseFtFeatures } from './ft-features.js';
import { planRounds } from './plan.js';
import { EpochRelay } from './epoch-relay.js';
import { verifyCounts } from './round.js';
import { BackupNamespace } from '../helpers/backup-netns.js';
import { netnsSkipReason, withTestNetwork } from '../helpers/netns.js';
import { diskCheckSkipReason, readLogOnDisk } from '../helpers/kv-disk-check.js';
import { makeExt4Image } from '../../src/block/make-ext4.js';

test('SeededRandom: the same seed gives the same sequence; ranges hold', () => {
  const a = new SeededRandom(42);
  const b = new SeededRandom(42);
  const xs = Array.from({ length: 50 }, () => a.int(3, 9));
  assert.deepEqual(xs, Array.from({ length: 50 }, () => b.int(3, 9)));
  assert.ok(xs.every((x) => x >= 3 && x <= 9));
  assert.ok(new Set(xs).size > 3, 'not constant');
  assert.notDeepEqual(xs, Array.from({ length: 50 }, () => new SeededRandom(43).int(3, 9)));
});

const RESERVED_HELP = `Cuju fault tolerance (reserved):
  -ft-heartbeat PERIOD[,timeout=T]  primary/backup heartbeat period and failure timeout (kept raw for now)
  -ft-key FILE                      shared key file for the replication channel
  -ft-lease PATH                    lease that decides which side may run after a failure (kept raw for now)

Accepted for QEMU compatibility (no effect):
`;
const READY_HELP = `Cuju fault tolerance:
  -ft-heartbeat PERIOD[,timeout=T]  primary/backup heartbeat period and failure timeout
  -ft-key FILE                      shared key file for the replication channel
  -ft-lease PATH                    lease that decides which side may run after a failure (kept raw for now)
`;

test('feature detection: flags whose line says kept raw are not ready; forcing overrides', () => {
  assert.deepEqual(parseFtFeatures(RESERVED_HELP), { heartbeat: false, lease: false, key: true });
  assert.deepEqual(parseFtFeatures(READY_HELP), { heartbeat: true, lease: false, key: true });
  assert.deepEqual(parseFtFeatures(RESERVED_HELP, 'lease'), { heartbeat: false, lease: true, key: true });
  assert.deepEqual(parseFtFeatures(RESERVED_HELP, 'all'), { heartbeat: true, lease: true, key: true });
  assert.equal(flagReady('nothing here', '-ft-key'), false);
});

test('the plan: every runnable kind once per cycle, the rest listed with the reason', () => {
  const none = { heartbeat: false, lease: false, key: false };
  const p = planRounds(10, new SeededRandom(7), none);
  assert.equal(p.rounds.length, 10);
  const firstCycle = new Set(p.rounds.slice(0, 7).map((r) => r.fault.name));
  assert.deepEqual([...firstCycle].sort(), ['corrupt-epoch', 'kill-backup', 'kill-primary', 'reprotect', 'slow-link', 'standby', 'truncate-epoch']);
  assert.deepEqual(p.skipped.map((s) => s.split(':')[0]).sort(), ['cut-link', 'pause-primary', 'stop-in-lock', 'stop-primary']);
  const all = planRounds(10, new SeededRandom(7), { heartbeat: true, lease: true, key: true });
  assert.equal(new Set(all.rounds.map((r) => r.fault.name)).size, 10);
  assert.equal(new Set(planRounds(11, new SeededRandom(7), { heartbeat: true, lease: true, key: true }).rounds.map((r) => r.fault.name)).size, 11);
  assert.deepEqual(all.skipped, []);
  assert.deepEqual(planRounds(3, new SeededRandom(1), none, 'kill-backup').rounds.map((r) => r.fault.name), ['kill-backup', 'kill-backup', 'kill-backup']);
  assert.throws(() => planRounds(1, new SeededRandom(1), none, 'meteor'), /unknown fault 'meteor'/);
});

/** A server that collects what it gets and answers 'ack' to each chunk; resolves with it. */
async function sink(): Promise<{ port: number; got: () => Buffer; ended: Promise<void>; close(): void }> {
  const server = createServer();
  let data = Buffer.alloc(0);
  let conn: Socket | undefined;
  const ended = new Promise<void>((resolve) => server.on('connection', (s) => {
    conn = s;
    s.on('data', (d) => { data = Buffer.concat([data, d]); s.write('ack'); });
    s.on('end', () => { resolve(); s.end(); });
  }));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as { port: number }).port, got: () => data, ended, close: () => { conn?.destroy(); server.close(); } };
}

test('EpochRelay: passes bytes until armed; corrupt flips exactly one byte at the armed offset', async () => {
  const s = await sink();
  const relay = await EpochRelay.start('127.0.0.1', s.port);
  const c = connect(relay.port, '127.0.0.1');
  await once(c, 'connect');
  const first = Buffer.alloc(1000, 1);
  c.write(first);
  while (relay.forwarded < 1000) await new Promise((r) => setTimeout(r, 10));
  relay.arm('corrupt', 500, 0x0f);
  c.write(Buffer.alloc(1000, 1));
  c.end();
  await s.ended;
  const got = s.got();
  assert.equal(got.length, 2000);
  assert.equal(relay.firedAt, 1500);
  assert.deepEqual([...got].map((b, i) => (b !== 1 ? i : -1)).filter((i) => i >= 0), [1500]);
  assert.equal(got[1500], 1 ^ 0x0f);
  relay.close();
  s.close();
});

test('EpochRelay: truncate ends the stream towards the backup at the armed offset; the primary sees the close', async () => {
  const s = await sink();
  const relay = await EpochRelay.start('127.0.0.1', s.port);
  const c = connect(relay.port, '127.0.0.1');
  await once(c, 'connect');
  let replies = '';
  c.setEncoding('utf8').on('data', (d: string) => (replies += d));
  const closed = once(c, 'close');
  relay.arm('truncate', 300);
  c.write(Buffer.alloc(1000, 2));
  await s.ended;
  assert.equal(s.got().length, 300);
  await closed;
  assert.match(replies, /ack/);
  relay.close();
  s.close();
});

test('BackupNamespace: TCP to the backup address goes through the veth; cut stops it, heal restores it; removal cleans up', { skip: netnsSkipReason() }, async () => {
  await withTestNetwork({ clients: 0 }, async (net) => {
    const b = BackupNamespace.create(net);
    try {
      // A listener inside the namespace (nc from busybox would do too; node is at hand).
      const server = spawn('ip', ['netns', 'exec', b.ns, process.execPath, '-e',
        "require('net').createServer((s)=>s.end('hello')).listen(7777,'0.0.0.0',()=>console.log('up'))"], { stdio: ['ignore', 'pipe', 'ignore'] });
      try {
        await once(server.stdout!, 'data');
        const hello = () => new Promise<string>((resolve) => {
          const c = connect({ host: b.replicationAddress, port: 7777, timeout: 1500 });
          let got = '';
          c.setEncoding('utf8').on('data', (d: string) => (got += d));
          c.on('end', () => resolve(got));
          c.on('timeout', () => { c.destroy(); resolve('timeout'); });
          c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        });
        assert.equal(await hello(), 'hello');
        b.cut();
        assert.notEqual(await hello(), 'hello', 'cut');
        b.heal(net);
        assert.equal(await hello(), 'hello', 'healed');
        const shaping = b.slow(20, 5, 20_000);
        assert.ok(shaping.kind === 'netem' || shaping.kind === 'tbf');
        assert.equal(await hello(), 'hello', 'slowed, still through');
        b.unshape();
        // The guest path: the tap and the bridge exist inside the namespace.
        const links = execFileSync('ip', ['-n', b.ns, '-o', 'link', 'show'], { encoding: 'utf8' });
        assert.match(links, new RegExp(`${b.tap}.*master cjbb`));
        assert.match(links, /l2@\S+.*master cjbb/);
      } finally {
        server.kill('SIGKILL');
      }
    } finally {
      b.remove();
    }
    assert.doesNotMatch(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }), new RegExp(`^${b.ns}\\b`, 'm'));
  });
});

test('readLogOnDisk: counts records on an ext4 image and finds the first wrong one', { skip: diskCheckSkipReason() }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-kvdisk-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = join(dir, 'src');
  mkdirSync(src);
  const rec = (n: number) => `W${String(n).padStart(14, '0')}\n`;
  writeFileSync(join(src, 'kv.log'), rec(1) + rec(2) + rec(3));
  await makeExt4Image({ sourceDir: src, imagePath: join(dir, 'a.img'), sizeBytes: 4 << 20 });
  assert.deepEqual(readLogOnDisk(join(dir, 'a.img')), { records: 3, firstBad: 0, fsck: 0 });
  writeFileSync(join(src, 'kv.log'), rec(1) + rec(3));
  await makeExt4Image({ sourceDir: src, imagePath: join(dir, 'b.img'), sizeBytes: 4 << 20 });
  assert.equal(readLogOnDisk(join(dir, 'b.img')).firstBad, 2);
});

test('verify counts out of info ft: compared epochs and mismatches, with the last mismatch; none when off', () => {
  const on = 'FT role: primary, state: protected\nverify: every 100 epochs, 7 verified (last epoch 700), 0 mismatches; snapshot copy 24000 us, hash 95 ms\nlease: x\n';
  assert.deepEqual(verifyCounts(on), { verified: 7, mismatches: 0, last: undefined });
  const bad = 'verify: every 100 epochs, 9 verified (last epoch 900), 2 mismatches; snapshot copy 1 us, hash 2 ms; last mismatch at epoch 900: guest RAM 0x1000-0x1fff\n';
  assert.deepEqual(verifyCounts(bad), { verified: 9, mismatches: 2, last: 'at epoch 900: guest RAM 0x1000-0x1fff' });
  assert.deepEqual(verifyCounts('verify: off (migrate_set_capability x-verify on before migrate -c, or cuju-verify-every N)\n'), { verified: 0, mismatches: 0 });
  assert.deepEqual(verifyCounts('Error: connection refused'), { verified: 0, mismatches: 0 });
});
