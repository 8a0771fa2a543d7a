/**
 * Round trips of the FT channel: a primary and a backup talking over a real TCP socket
 * pair, and random epochs through random chunking (fast-check), where decoding and
 * re-encoding must reproduce the exact bytes and applying must reproduce the staged RAM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { ChannelReader } from '../../../src/ft/wire/channel-reader.js';
import { ChannelWriter } from '../../../src/ft/wire/channel-writer.js';
import { encodeMessage } from '../../../src/ft/wire/encode.js';
import type { ChannelMessage, DiskOp, EpochContent } from '../../../src/ft/wire/messages.js';
import { applyPages, stagePages } from '../../../src/ft/wire/stage-pages.js';
import { vcpuState, vmState } from '../../snapshot/fixtures.js';
import { backupReader, drain, epoch, frames, hello, MACHINE, PAGE, patternRam, RAM_PAGES } from './fixtures.js';

async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect(port, '127.0.0.1');
  const [serverSide] = await accepted;
  await once(client, 'connect').catch(() => {});
  server.close();
  return [client, serverSide];
}

test('primary and backup exchange HELLO, epochs, ACKs, heartbeats and CANCEL over TCP', async () => {
  const [primarySock, backupSock] = await socketPair();
  const primaryRam = patternRam(1);
  const backupRam = new Uint8Array(primaryRam.length);
  const sent = [epoch(1, [0, 1, 2, 5, 9, 63]), epoch(2, Array.from({ length: RAM_PAGES }, (_, i) => i)), epoch(3, [])];

  const primary = new ChannelWriter(primarySock);
  const primaryIn = new ChannelReader(primarySock, { role: 'primary', machine: MACHINE });
  const backup = new ChannelWriter(backupSock);
  const backupIn = new ChannelReader(backupSock, { role: 'backup', machine: MACHINE });

  const backupSide = (async () => {
    await backup.send(hello('backup'));
    const got: ChannelMessage[] = [];
    for await (const m of backupIn) {
      got.push(m);
      if (m.type === 'epoch') {
        applyPages(m.content, backupRam);
        await backup.send({ type: 'ack', epoch: m.content.epoch });
      }
      if (m.type === 'heartbeat') await backup.send({ type: 'heartbeat', sentAtNs: m.sentAtNs + 1n });
      if (m.type === 'cancel') break;
    }
    backupSock.end();
    return got;
  })();

  await primary.send(hello('primary'));
  for (const e of sent) await primary.send({ type: 'epoch', content: e });
  await primary.send({ type: 'heartbeat', sentAtNs: 123_456_789_012n });
  await primary.send({ type: 'cancel', reason: 'cuju-migrate-cancel on the primary' });
  const fromBackup = (await drain(primaryIn));
  primarySock.end();
  const got = await backupSide;

  assert.equal(fromBackup.error, undefined);
  assert.deepEqual(fromBackup.messages.map((m) => m.type), ['hello', 'ack', 'ack', 'ack', 'heartbeat']);
  assert.deepEqual(fromBackup.messages.filter((m) => m.type === 'ack').map((m) => (m as { epoch: number }).epoch), [1, 2, 3]);
  assert.deepEqual(got.map((m) => m.type), ['hello', 'epoch', 'epoch', 'epoch', 'heartbeat', 'cancel']);
  const epochs = got.flatMap((m) => (m.type === 'epoch' ? [m.content] : []));
  assert.deepEqual(epochs.map((e) => e.epoch), [1, 2, 3]);
  assert.deepEqual(epochs[0].vcpus, sent[0].vcpus);
  assert.deepEqual(epochs[0].vm, sent[0].vm);
  assert.deepEqual(epochs[1].devices, sent[1].devices);
  assert.deepEqual(epochs[2].diskOps, sent[2].diskOps);
  // Epoch 2 sent every page of its own RAM: the backup now holds exactly that RAM.
  assert.ok(Buffer.from(backupRam).equals(Buffer.from(patternRam(2, Array.from({ length: RAM_PAGES }, (_, i) => i).filter((p) => p % 5 === 0)))));
  assert.equal((got.at(-1) as { reason: string }).reason, 'cuju-migrate-cancel on the primary');
});

const diskOp: fc.Arbitrary<DiskOp> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), device: fc.nat(1), offset: fc.nat(1 << 40), data: fc.uint8Array({ minLength: 1, maxLength: 3000 }) }),
  fc.record({ kind: fc.constant('discard' as const), device: fc.nat(1), offset: fc.nat(1 << 40), length: fc.integer({ min: 1, max: 2 ** 40 }) }),
);

/** A random epoch: a random page set of a random RAM, some pages zero, random disk ops. */
const randomEpoch = fc.record({
  pages: fc.uniqueArray(fc.nat(RAM_PAGES - 1), { maxLength: RAM_PAGES }),
  zero: fc.uniqueArray(fc.nat(RAM_PAGES - 1), { maxLength: 20 }),
  seed: fc.nat(255),
  n: fc.integer({ min: 1, max: 2 ** 40 }),
  releasedBack: fc.nat(5),
  diskOps: fc.array(diskOp, { maxLength: 6 }),
  cuts: fc.array(fc.nat(400_000), { maxLength: 30 }),
});

test('random epochs survive random chunking: same bytes re-encoded, same RAM applied', async () => {
  await fc.assert(fc.asyncProperty(randomEpoch, async (r) => {
    const { cuts, pages } = r;
    const ram = patternRam(r.seed, r.zero);
    const content: EpochContent = {
      epoch: r.n, releasedEpoch: Math.max(0, r.n - 1 - r.releasedBack), ...stagePages(ram, r.pages),
      vcpus: [vcpuState(r.seed)], vm: vmState(), devices: [{ seed: r.seed }, null], diskOps: r.diskOps.map((op) => ({ ...op })),
    };
    const bytes = frames([hello('primary'), { type: 'epoch', content }]);
    const { messages, error } = await drain(backupReader(bytes, { cuts, lastEpoch: content.epoch - 1 }));
    assert.equal(error, undefined);
    const got = messages[1];
    assert.equal(got.type, 'epoch');
    if (got.type !== 'epoch') return;
    assert.ok(Buffer.concat(encodeMessage(got, 1)).equals(Buffer.concat(encodeMessage({ type: 'epoch', content }, 1))));
    const applied = new Uint8Array(ram.length).fill(0xee);
    applyPages(got.content, applied);
    for (let p = 0; p < RAM_PAGES; p++) {
      const expected = pages.includes(p) ? ram.subarray(p * PAGE, (p + 1) * PAGE) : new Uint8Array(PAGE).fill(0xee);
      assert.ok(Buffer.from(applied.subarray(p * PAGE, (p + 1) * PAGE)).equals(expected), `page ${p}`);
    }
    assert.deepEqual(got.content.diskOps, content.diskOps);
  }), { numRuns: 150 });
});

test('zero pages travel as zero runs without data', () => {
  const ram = patternRam(3, [4, 5, 6]);
  const withZeros = Buffer.concat(encodeMessage({ type: 'epoch', content: epoch(1, [3, 4, 5, 6, 7], { ram }) }, 1));
  const without = Buffer.concat(encodeMessage({ type: 'epoch', content: epoch(1, [3, 7], { ram }) }, 1));
  // Three more pages cost one more run entry (8 bytes) each side of them, not 3 × 4096.
  assert.ok(withZeros.length - without.length <= 16, `${withZeros.length - without.length} bytes`);
});

test('with reusePageBuffer, epochs applied as they arrive give the same RAM', async () => {
  const ram1 = patternRam(1);
  const ram2 = patternRam(2);
  const bytes = frames([hello('primary'), { type: 'epoch', content: epoch(1, [1, 2, 3], { ram: ram1 }) }, { type: 'epoch', content: epoch(2, [2, 3, 4], { ram: ram2 }) }]);
  const reader = backupReader(bytes, { reusePageBuffer: true, cuts: [5000, 9000, 20000] });
  const backupRam = new Uint8Array(ram1.length);
  const seen: Uint8Array[] = [];
  for await (const m of reader) {
    if (m.type !== 'epoch') continue;
    applyPages(m.content, backupRam);
    seen.push(m.content.pageData);
  }
  assert.equal(seen[0].buffer, seen[1].buffer, 'one buffer for both epochs');
  const page = (b: Uint8Array, p: number) => Buffer.from(b.subarray(p * PAGE, (p + 1) * PAGE));
  assert.ok(page(backupRam, 1).equals(page(ram1, 1)));
  for (const p of [2, 3, 4]) assert.ok(page(backupRam, p).equals(page(ram2, p)), `page ${p}`);
});
