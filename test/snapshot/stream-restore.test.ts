/**
 * restoreFromStream: the one-pass restore a migration destination runs on its socket.
 * Whatever the chunking, it restores exactly what the two-pass file restore does from
 * the same bytes; truncation, corruption, a stream that carries on, an abort and a
 * failing socket are each one SnapshotError, and the machine state (VM, vCPUs, devices)
 * is never applied unless the whole stream verified.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import fc from 'fast-check';
import { GuestMemory } from '../../src/memory/guest-memory.js';
import { BufferSource } from '../../src/snapshot/byte-source.js';
import { SnapshotError } from '../../src/snapshot/errors.js';
import { restoreSnapshot } from '../../src/snapshot/machine-snapshot.js';
import type { ExpectedMachine } from '../../src/snapshot/reader.js';
import { restoreFromStream, type StreamRestoreOptions } from '../../src/snapshot/stream-restore.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { joinSections, splitSections } from './sections.js';
import {
  CAPS, DEVICE_STATES, MACHINE, RAM, recordingTarget, sourceMemory, vcpuState, vmState, writeValidSnapshot, type RecordingTarget,
} from './fixtures.js';

const expected: ExpectedMachine = { ...MACHINE, capabilities: CAPS };

/** A snapshot with a second memory pass (data and zero runs), so pass order matters. */
async function twoPassSnapshot(): Promise<Buffer> {
  const mem = sourceMemory();
  return writeValidSnapshot(mem, async (w) => {
    mem.fill(2 * 4096, 4096, 0);
    mem.write(20 * 4096, Uint8Array.of(1, 2, 3));
    await w.writePages(mem, 1, [2, 3, 20]);
  });
}

/** A PassThrough fed `bytes` in chunks of the given sizes (cycled), honouring backpressure. */
function feed(bytes: Uint8Array, sizes: number[] = [65536], end = true): PassThrough {
  const pt = new PassThrough();
  void (async () => {
    let i = 0;
    for (let off = 0; off < bytes.length;) {
      const n = sizes[i++ % sizes.length];
      const more = pt.write(bytes.subarray(off, off + n));
      off += n;
      if (!more) await once(pt, 'drain');
    }
    if (end) pt.end();
  })();
  return pt;
}

/** An async iterable yielding exactly these chunk sizes (a PassThrough may merge small writes). */
async function* exactChunks(bytes: Uint8Array, size: number): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < bytes.length; off += size) yield bytes.subarray(off, off + size);
}

/** A recording target that also records every write into its RAM (gpa+length), however it was made. */
function recorder(ram = RAM): RecordingTarget {
  const t = recordingTarget(ram);
  delete (t.memory as Partial<GuestMemory>).write; // back to GuestMemory's own write: onWrite records it
  t.memory.onWrite = (gpa, length) => t.calls.push(`memory 0x${gpa.toString(16)}+${length}`);
  return t;
}

/** What the two-pass file restore makes of the same bytes. */
async function reference(bytes: Uint8Array): Promise<RecordingTarget> {
  const t = recorder();
  await restoreSnapshot(new BufferSource(bytes), expected, t);
  return t;
}

function assertSameMachine(actual: RecordingTarget, ref: RecordingTarget): void {
  assert.deepEqual(actual.calls, ref.calls, 'same calls in the same order');
  assert.ok(Buffer.from(actual.memory.view(0, RAM)).equals(Buffer.from(ref.memory.view(0, RAM))), 'same RAM');
  assert.deepEqual(actual.vm, ref.vm);
  assert.deepEqual(actual.vcpus, ref.vcpus);
  assert.deepEqual(actual.devices, ref.devices);
}

/** The restore's SnapshotError (asserting it is one, on one line, and that no machine state was applied). */
async function streamError(input: Readable | AsyncIterable<Uint8Array>, exp = expected, opts?: StreamRestoreOptions): Promise<string> {
  const target = recorder(exp.ramBytes);
  let error: unknown;
  await restoreFromStream(input, exp, target, opts).catch((e) => { error = e; });
  assert.ok(error instanceof SnapshotError, `expected a SnapshotError, got ${String(error)}`);
  assert.doesNotMatch(error.message, /\n/, 'one line');
  assert.deepEqual(target.calls.filter((c) => !c.startsWith('memory')), [], 'no VM, vCPU or device state applied');
  return error.message;
}

async function fileError(bytes: Uint8Array, exp = expected): Promise<string> {
  let message = '';
  await restoreSnapshot(new BufferSource(bytes), exp, recorder(exp.ramBytes)).catch((e: Error) => { message = e.message; });
  assert.notEqual(message, '', 'the file restore refuses it too');
  return message;
}

test('a stream in any chunking restores exactly what the file restore does', async () => {
  const snapshots = [await writeValidSnapshot(), await twoPassSnapshot()];
  const refs = await Promise.all(snapshots.map(reference));
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: 1 }), fc.array(fc.integer({ min: 1, max: 20000 }), { minLength: 1, maxLength: 20 }), async (which, sizes) => {
      const target = recorder();
      const summary = await restoreFromStream(feed(snapshots[which], sizes), expected, target);
      assertSameMachine(target, refs[which]);
      assert.equal(summary.size, snapshots[which].length);
      assert.equal(summary.rest.length, 0);
    }),
    { numRuns: 60 },
  );
});

test('full 1 MiB memory sections arriving in socket-sized pieces land in RAM intact', async () => {
  const machine = { ramBytes: 3 * 1024 * 1024 + 5 * 4096, vcpuCount: 1, devices: [] };
  const exp: ExpectedMachine = { ...machine, capabilities: CAPS };
  const ram = randomBytes(machine.ramBytes);
  const out = new PassThrough();
  const collected: Buffer[] = [];
  out.on('data', (c: Buffer) => collected.push(c));
  const w = new SnapshotWriter(out, machine);
  await w.writeRam(GuestMemory.fromBuffer(new Uint8Array(ram)));
  await w.writeVcpu(0, vcpuState(0));
  await w.writeVm(vmState());
  await w.finish();
  const bytes = Buffer.concat(collected);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 200_000 }), { minLength: 1, maxLength: 8 }), async (sizes) => {
      const target = recorder(machine.ramBytes);
      const summary = await restoreFromStream(feed(bytes, sizes), exp, target);
      assert.equal(summary.memoryRuns, 4, 'three full 256-page runs and a 5-page one');
      assert.ok(Buffer.from(target.memory.view(0, machine.ramBytes)).equals(ram));
      assert.deepEqual(target.calls.slice(0, 4), ['memory 0x0+1048576', 'memory 0x100000+1048576', 'memory 0x200000+1048576', 'memory 0x300000+20480']);
    }),
    { numRuns: 15 },
  );
});

test('1-byte chunks, through a PassThrough and as a plain async iterable', async () => {
  const bytes = await twoPassSnapshot();
  const ref = await reference(bytes);
  const viaPassThrough = recorder();
  await restoreFromStream(feed(bytes, [1]), expected, viaPassThrough);
  assertSameMachine(viaPassThrough, ref);
  const viaIterable = recorder();
  const summary = await restoreFromStream(exactChunks(bytes, 1), expected, viaIterable);
  assertSameMachine(viaIterable, ref);
  const snap = await restoreSnapshot(new BufferSource(bytes), expected, recorder());
  assert.deepEqual(
    { machine: summary.machine, vcpus: summary.vcpus, vm: summary.vm, devices: summary.devices, size: summary.size, runs: summary.memoryRuns },
    { machine: snap.machine, vcpus: snap.vcpus, vm: snap.vm, devices: snap.devices, size: snap.size, runs: snap.memory.length },
  );
  assert.deepEqual(summary.vcpus, [vcpuState(0), vcpuState(1)]);
  assert.deepEqual(summary.vm, vmState());
  assert.deepEqual(summary.devices, DEVICE_STATES);
});

test('memory reaches the target as it arrives, before the stream is complete', async () => {
  const bytes = await writeValidSnapshot();
  const firstVcpu = splitSections(bytes).sections.find((s) => s.readUInt32LE(0) === 2)!;
  const vcpuAt = bytes.indexOf(firstVcpu);
  const pt = new PassThrough();
  pt.write(bytes.subarray(0, vcpuAt)); // all of RAM, then the stream stalls
  const target = recorder();
  const progress: number[] = [];
  const restoring = restoreFromStream(pt, expected, target, { onProgress: (n) => progress.push(n) });
  while (progress.at(-1) !== vcpuAt) await new Promise((r) => setImmediate(r));
  assert.ok(Buffer.from(target.memory.view(0, RAM)).equals(Buffer.from(sourceMemory().view(0, RAM))), 'RAM already restored');
  assert.deepEqual(target.calls, ['memory 0x1000+12288', 'memory 0xa000+4096', 'memory 0x3f000+4096'], 'machine state waits for the trailer');
  pt.end(bytes.subarray(vcpuAt));
  const summary = await restoring;
  assert.equal(progress.at(-1), bytes.length);
  assert.ok(progress.every((n, i) => i === 0 || n >= progress[i - 1]), 'progress never goes back');
  assert.equal(summary.memoryRuns, 3);
  assert.deepEqual(target.calls.slice(3), ['vm', 'vcpu0', 'vcpu1', 'device0', 'device1']);
});

test('every truncation point is refused, naming where the stream ended', async () => {
  const bytes = await writeValidSnapshot();
  const headerSize = bytes.readUInt32LE(16);
  const frameStarts = splitSections(bytes).sections.map((s) => bytes.indexOf(s));
  const edges = [0, 1, 19, 20, headerSize - 1, headerSize, ...frameStarts, ...frameStarts.map((s) => s + 15), ...frameStarts.map((s) => s + 16), bytes.length - 32, bytes.length - 1];
  const check = async (len: number) => {
    const message = await streamError(feed(bytes.subarray(0, len), [4096]));
    assert.match(message, new RegExp(`^migration stream ended early: truncated after ${len} bytes, inside `));
  };
  for (const len of edges) await check(len);
  await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: bytes.length - 1 }), check), { numRuns: 300 });
  assert.match(await streamError(feed(bytes.subarray(0, frameStarts[0] + 100))), new RegExp(`inside section memory 0 \\(at byte ${frameStarts[0]}\\)$`));
  assert.match(await streamError(feed(bytes.subarray(0, bytes.length - 5))), /inside the SHA-256 trailer$/);
});

test('every corruption (bytes flipped anywhere) is refused before any machine state is applied', async () => {
  const bytes = await twoPassSnapshot();
  const ref = await reference(bytes);
  const flip = fc.record({ at: fc.integer({ min: 0, max: bytes.length - 1 }), xor: fc.integer({ min: 1, max: 255 }) });
  let unnoticed = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(flip, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 9000 }), async (flips, chunk) => {
      const bad = Buffer.from(bytes);
      const seen = new Set<number>();
      for (const f of flips) {
        if (seen.has(f.at)) continue; // two flips of one byte could cancel out
        seen.add(f.at);
        bad[f.at] ^= f.xor;
      }
      const target = recorder();
      try {
        await restoreFromStream(feed(bad, [chunk]), expected, target);
      } catch (e) {
        assert.ok(e instanceof SnapshotError, `expected a SnapshotError, got ${String(e)}`);
        assert.doesNotMatch(e.message, /\n/);
        assert.deepEqual(target.calls.filter((c) => !c.startsWith('memory')), []);
        return;
      }
      // Accepted: only acceptable if the result is identical (a byte no check covers).
      unnoticed++;
      assertSameMachine(target, ref);
    }),
    { numRuns: 500 },
  );
  assert.equal(unnoticed, 0, 'every byte of the stream is covered by some check');
});

test('corrupt structure fields (huge lengths, bad types) are refused without waiting for or buffering the claimed bytes', async () => {
  const bytes = await writeValidSnapshot();
  const memoryFrame = bytes.readUInt32LE(16);
  const huge = Buffer.from(bytes);
  huge.writeBigUInt64LE(0xffffffffffffffn, memoryFrame + 8);
  // The stream is left open: a reader that trusted the length would wait forever.
  assert.match(await streamError(feed(huge, [65536], false)), /section memory 0 \(at byte \d+\) claims 72057594037927935 bytes, more than a memory section holds/);
  const badType = Buffer.from(bytes);
  badType.writeUInt32LE(9, memoryFrame);
  assert.match(await streamError(feed(badType, [65536], false)), /section 9 0 \(at byte \d+\) has an unknown type/);
});

test('bad headers, other machines and refused states give the file reader\'s messages', async () => {
  const bytes = await writeValidSnapshot();
  const newer = Buffer.from(bytes);
  newer.writeUInt32LE(7, 8);
  const frames = splitSections(bytes);
  const v0 = frames.sections.findIndex((f) => f.readUInt32LE(0) === 2);
  [frames.sections[v0], frames.sections[v0 + 1]] = [frames.sections[v0 + 1], frames.sections[v0]];
  const swapped = joinSections(frames);
  const refuseBlk = (d: { id: string }) => { if (d.id === 'virtio-mmio.0') throw new Error('queue 0 size 9999 too large'); };
  const cases: [Uint8Array, ExpectedMachine, RegExp][] = [
    [newer, expected, /^snapshot format version 7 is newer than this cuju supports \(1\)/],
    [Buffer.from('#!/bin/sh\necho hello, not a snapshot at all\n'), expected, /^not a cuju snapshot/],
    [bytes, { ...expected, ramBytes: 2 * 1024 * 1024 }, /^snapshot RAM size mismatch/],
    [bytes, { ...expected, vcpuCount: 1 }, /vCPU count mismatch.*-smp 2/],
    [bytes, { ...expected, devices: [MACHINE.devices[0]] }, /device mismatch/],
    [bytes, { ...expected, validateDevice: refuseBlk }, /device virtio-blk 'virtio-mmio.0' is not usable: queue 0 size 9999/],
    [bytes, { ...expected, capabilities: { ...CAPS, xcrs: false } }, /lacks KVM_CAP_XCRS/],
    [swapped, expected, /^snapshot section out of order: found vcpu 1 where a memory section \(pass >= 0\) or vcpu 0 should be$/],
  ];
  for (const [input, exp, pattern] of cases) {
    const message = await streamError(feed(input, [777]), exp);
    assert.match(message, pattern);
    assert.equal(message, await fileError(input, exp), 'same message as the file reader');
  }
});

test('bytes after the trailer are damage by default', async () => {
  const bytes = await writeValidSnapshot();
  const message = await streamError(feed(Buffer.concat([bytes, Buffer.of(0)])));
  assert.equal(message, `migration stream has bytes after the snapshot's end (at byte ${bytes.length}): the stream is damaged or carries more than a snapshot (restore with { trailing: 'allow' } to keep reading it)`);
});

test("trailing: 'allow' returns over-read bytes and leaves the rest of the stream readable", async () => {
  const bytes = await twoPassSnapshot();
  const ref = await reference(bytes);
  const after = Buffer.from('NEXT MESSAGE: '.repeat(5000));
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 30000 }), { minLength: 1, maxLength: 10 }), async (sizes) => {
      const pt = feed(Buffer.concat([bytes, after]), sizes);
      const target = recorder();
      const summary = await restoreFromStream(pt, expected, target, { trailing: 'allow' });
      assertSameMachine(target, ref);
      assert.ok(!pt.destroyed, 'the stream is still open');
      const remaining: Buffer[] = [];
      for await (const chunk of pt) remaining.push(chunk as Buffer);
      assert.ok(Buffer.concat([summary.rest, ...remaining]).equals(after), 'rest + what the stream still holds = what followed the snapshot');
    }),
    { numRuns: 40 },
  );
  const exactEnd = await restoreFromStream(feed(bytes), expected, recorder(), { trailing: 'allow' });
  assert.equal(exactEnd.rest.length, 0);
  // A generator is not closed either: the caller iterates on where the restore stopped.
  const gen = exactChunks(Buffer.concat([bytes, after]), 1000);
  const summary = await restoreFromStream(gen, expected, recorder(), { trailing: 'allow' });
  const remaining: Uint8Array[] = [];
  for await (const chunk of gen) remaining.push(chunk);
  assert.ok(Buffer.concat([summary.rest, ...remaining]).equals(after));
});

test('an abort rejects a restore that is waiting for bytes, and one not yet started', async () => {
  const bytes = await writeValidSnapshot();
  const controller = new AbortController();
  const pt = feed(bytes.subarray(0, 10000), [4096], false); // the sender stalls
  const pending = streamError(pt, expected, { signal: controller.signal });
  setTimeout(() => controller.abort(new Error('source host went away')), 20);
  assert.equal(await pending, 'restoring from migration stream was aborted after 10000 bytes (source host went away)');
  assert.match(await streamError(feed(bytes), expected, { signal: AbortSignal.abort() }), /^restoring from migration stream was aborted after 0 bytes/);
});

test('a failing stream is a SnapshotError naming how far it got', async () => {
  const bytes = await writeValidSnapshot();
  const pt = new PassThrough();
  pt.write(bytes.subarray(0, 5000));
  setTimeout(() => pt.destroy(new Error('ECONNRESET: connection reset by peer')), 10);
  assert.equal(await streamError(pt), 'reading migration stream failed after 5000 bytes: ECONNRESET: connection reset by peer');
  const text = new PassThrough();
  text.setEncoding('latin1');
  text.end(bytes);
  assert.match(await streamError(text), /yielded text, not bytes/);
});

/** A loopback server whose first connection is handed to `onSocket`. */
async function loopback(onSocket: (s: Socket) => Promise<void>): Promise<{ port: number; done: Promise<void>; close(): void }> {
  const server = createServer();
  const done = new Promise<void>((resolve, reject) => {
    server.once('connection', (s) => { onSocket(s).then(resolve, reject).finally(() => s.destroy()); });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { port: (server.address() as AddressInfo).port, done, close: () => server.close() };
}

test('over a real TCP loopback socket: writer on one end, stream restore on the other, then the protocol carries on', async () => {
  const mem = sourceMemory();
  const ref = await reference(await writeValidSnapshot(mem));
  const target = recorder();
  const srv = await loopback(async (socket) => {
    const summary = await restoreFromStream(socket, expected, target, { trailing: 'allow' });
    // The migration protocol's next message follows the snapshot on the same socket.
    let text = Buffer.from(summary.rest).toString();
    const more = socket.iterator({ destroyOnReturn: false });
    while (!text.includes('\n')) {
      const { value, done } = await more.next();
      if (done) break;
      text += (value as Buffer).toString();
    }
    assert.equal(text, 'COMMIT\n');
    socket.end('ACK\n');
  });
  try {
    const client = connect(srv.port, '127.0.0.1');
    await once(client, 'connect');
    const w = new SnapshotWriter(client, MACHINE);
    await w.writeRam(mem);
    await w.writeVcpu(0, vcpuState(0));
    await w.writeVcpu(1, vcpuState(1));
    await w.writeVm(vmState());
    await w.writeDevice(0, DEVICE_STATES[0]);
    await w.writeDevice(1, DEVICE_STATES[1]);
    await w.finish();
    client.write('COMMIT\n');
    let reply = '';
    for await (const chunk of client) reply += (chunk as Buffer).toString();
    assert.equal(reply, 'ACK\n');
    await srv.done;
    assertSameMachine(target, ref);
  } finally {
    srv.close();
  }
});

test('over a TCP loopback socket in strict mode: a half-closed socket completes the restore, a reset fails it', async () => {
  const bytes = await twoPassSnapshot();
  const ref = await reference(bytes);
  const target = recorder();
  const srv = await loopback(async (socket) => { await restoreFromStream(socket, expected, target); });
  try {
    const client = connect(srv.port, '127.0.0.1');
    client.end(bytes);
    await srv.done;
    assertSameMachine(target, ref);
  } finally {
    srv.close();
  }
  let message = '';
  const cut = await loopback(async (socket) => {
    await restoreFromStream(socket, expected, recorder()).catch((e: Error) => { message = e.message; });
  });
  try {
    const client = connect(cut.port, '127.0.0.1');
    client.write(bytes.subarray(0, 3000), () => client.resetAndDestroy());
    await cut.done;
    // A reset may discard what the kernel had queued, so the count is at most what was sent.
    assert.match(message, /^(migration stream ended early: truncated after \d+ bytes|reading migration stream failed after \d+ bytes: .*ECONNRESET)/);
  } finally {
    cut.close();
  }
});
