/**
 * -ft-key authentication of the migration connection (src/migration/auth.ts): between
 * real KVM machines, the same key on both sides migrates; another key, or a key on one
 * side only, is refused with one line on each side before any state flows, the running
 * VM untouched and nothing started at the destination. Without KVM: the stream MAC the
 * destination computes from the chunks its restore pulls equals the source's, for any
 * chunking and any bytes read past the end; and a command's MAC binds type, reason and stream.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import { KvmSystem } from '../../src/kvm/system.js';
import { AUTH_REFUSED, commandMac, commandMacMatches, DESTINATION_WITHOUT_KEY, StreamMacReader, StreamMacWriter } from '../../src/migration/auth.js';
import { listenForMigration } from '../../src/migration/incoming.js';
import { OutgoingMigration } from '../../src/migration/outgoing.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { assertCounterAdvances, assertDestinationUntouched, freePort, until } from './harness.js';
import { socketPair } from './socket-pair.js';
import { SWEEP_PAGES } from './sweep-guest.js';
import { TestDestinationMachine, TestSourceMachine } from './test-machines.js';

const skip = kvmSkipReason();
const opts = { skip, timeout: 30_000 };
const kvm = skip ? undefined : KvmSystem.open();
after(() => kvm?.close());

const KEY = randomBytes(32);

async function migrate(sourceKey: Buffer | undefined, destinationKey: Buffer | undefined) {
  const src = new TestSourceMachine(kvm!);
  const dst = new TestDestinationMachine(kvm!);
  const port = await freePort();
  const notices: string[] = [];
  const listener = await listenForMigration(dst, { host: '127.0.0.1', port, notice: (l) => notices.push(l), key: destinationKey });
  try {
    await until(() => src.counter > BigInt(SWEEP_PAGES), 'the source guest to sweep');
    const m = new OutgoingMigration(src, { kind: 'tcp', host: '127.0.0.1', port }, { verify: true, downtimeLimitMs: 300, maxBandwidth: 2 ** 32, key: sourceKey });
    await m.run();
    return { src, dst, notices, stats: m.stats };
  } finally {
    listener.close();
  }
}

async function assertRefused(sourceKey: Buffer | undefined, destinationKey: Buffer | undefined, sourceSays: RegExp, destinationSays: RegExp): Promise<void> {
  // A source without a key streams at once (a small VM fits in the socket buffers); the
  // destination reads none of it. A source with a key sends nothing before the handshake.
  const { src, dst, notices, stats } = await migrate(sourceKey, destinationKey);
  try {
    assert.equal(stats.status, 'failed');
    assert.match(stats.error ?? '', sourceSays);
    assert.ok(!stats.error!.includes('\n'));
    assert.equal(src.runState(), 'running', 'the source VM runs on');
    assert.ok(src.trackers.every((t) => !t.isTracking), 'dirty logging is off again');
    await assertCounterAdvances(() => src.counter, 'the source');
    await until(() => notices.some((l) => l.startsWith('incoming migration failed')), `the destination to say why (${notices.join(' | ')})`);
    assert.match(notices.find((l) => l.startsWith('incoming migration failed'))!, destinationSays);
    assertDestinationUntouched(dst, 'refused');
    if (sourceKey) assert.ok(stats.transferredBytes < 64 * 1024, `${stats.transferredBytes} bytes of state were sent`);
  } finally {
    src.destroy();
    dst.destroy();
  }
}

test('the same key on both sides: the migration authenticates and completes', opts, async () => {
  const { src, dst, stats } = await migrate(KEY, Buffer.from(KEY));
  try {
    assert.equal(stats.status, 'completed', stats.error);
    assert.equal(stats.verify, 'match');
    await until(() => dst.started, 'the destination to start');
    await assertCounterAdvances(() => dst.counter, 'the destination');
  } finally {
    src.destroy();
    dst.destroy();
  }
});

test('another key: refused on both sides with the same line, nothing started', opts, async () => {
  await assertRefused(KEY, randomBytes(32), new RegExp(`^${AUTH_REFUSED}$`), new RegExp(`^incoming migration failed: ${AUTH_REFUSED}; still waiting`));
});

test('a key on the destination only: the source is refused, the destination takes no state', opts, async () => {
  await assertRefused(undefined, KEY, new RegExp(`^the destination (refused the migration|could not load the VM): ${AUTH_REFUSED}$`), new RegExp(`^incoming migration failed: ${AUTH_REFUSED}`));
});

test('a key on the source only: the destination refuses, naming the fix', opts, async () => {
  await assertRefused(KEY, undefined, new RegExp(`^the destination refused the migration: ${DESTINATION_WITHOUT_KEY}$`), new RegExp(`^incoming migration failed: ${DESTINATION_WITHOUT_KEY}`));
});

test('stream MAC: the destination\'s, over the chunks its restore pulled minus what it read past the end, is the source\'s', async () => {
  await fc.assert(fc.asyncProperty(
    fc.uint8Array({ minLength: 1, maxLength: 4000 }), fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 12 }), fc.integer({ min: 0, max: 300 }),
    async (stream, cuts, extra) => {
      const session = randomBytes(32);
      const sink = new PassThrough();
      const w = new StreamMacWriter(sink, session);
      await new Promise<void>((resolve) => w.write(stream, () => resolve()));
      const expected = w.digest();
      // The destination: chunks as a socket may deliver them, the last running past the stream's end.
      const { client, server, close } = await socketPair();
      try {
        const bytes = Buffer.concat([stream, randomBytes(extra)]);
        const r = new StreamMacReader(server, session);
        const it = r.chunks();
        let at = 0;
        for (const c of [...cuts, bytes.length]) {
          const end = Math.min(bytes.length, at + c);
          if (end > at) client.write(bytes.subarray(at, end));
          at = end;
        }
        // Pull until the stream is covered, as the restore does; the rest of that chunk is `rest`.
        let got = 0;
        let last: Uint8Array = new Uint8Array(0);
        while (got < stream.length) {
          const n = await it.next();
          last = n.value as Uint8Array;
          got += last.length;
        }
        const rest = last.subarray(last.length - (got - stream.length));
        assert.deepEqual(r.finish(rest), expected);
      } finally {
        close();
      }
    }), { numRuns: 40 });
});

test('command MAC: binds the command type, its reason and the stream', () => {
  const s = randomBytes(32);
  const m = randomBytes(32);
  const ft = { type: 'ft', mac: commandMac(s, { type: 'ft' }, m) };
  assert.ok(commandMacMatches(s, ft, m));
  assert.ok(!commandMacMatches(s, { ...ft, type: 'go' }, m), 'an ft turned into a go');
  assert.ok(!commandMacMatches(s, ft, randomBytes(32)), 'another stream');
  assert.ok(!commandMacMatches(randomBytes(32), ft, m), 'another session');
  assert.ok(!commandMacMatches(s, { type: 'ft' }, m), 'no mac');
  const abort = { type: 'abort', reason: 'verify mismatch', mac: commandMac(s, { type: 'abort', reason: 'verify mismatch' }, m) };
  assert.ok(commandMacMatches(s, abort, m));
  assert.ok(!commandMacMatches(s, { ...abort, reason: 'other' }, m));
});
