/**
 * The snapshot format without KVM: a snapshot written from synthetic state reads back
 * identically; every kind of bad input (other magic, newer version, damage, truncation,
 * another machine, misordered sections) is one SnapshotError and the target is untouched.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { BufferSource } from '../../src/snapshot/byte-source.js';
import { restoreSnapshot } from '../../src/snapshot/machine-snapshot.js';
import { SnapshotError } from '../../src/snapshot/errors.js';
import { GuestMemory } from '../../src/memory/guest-memory.js';
import { joinSections, splitSections } from './sections.js';
import { CAPS, Collector, DEVICE_STATES, MACHINE, RAM, recordingTarget, sourceMemory, vcpuState, vmState, writeValidSnapshot } from './fixtures.js';

const writeSnapshot = writeValidSnapshot;

const expected = { ...MACHINE, capabilities: CAPS };

async function restoreError(bytes: Uint8Array, exp: Parameters<typeof restoreSnapshot>[1] = expected) {
  const target = recordingTarget(exp.ramBytes);
  await assert.rejects(restoreSnapshot(new BufferSource(bytes), exp, target), SnapshotError);
  assert.deepEqual(target.calls, [], 'target untouched');
  let message = '';
  await restoreSnapshot(new BufferSource(bytes), exp, recordingTarget(exp.ramBytes)).catch((e: Error) => { message = e.message; });
  return message;
}

test('a snapshot restores RAM, vCPU, VM and device state exactly, in order', async () => {
  const mem = sourceMemory();
  const bytes = await writeSnapshot(mem);
  // Only the 5 non-zero pages travel (plus framing), not the 64-page RAM.
  assert.ok(bytes.length < 5 * 4096 + 16 * 1024, `snapshot is ${bytes.length} bytes`);
  const target = recordingTarget();
  const snap = await restoreSnapshot(new BufferSource(bytes), expected, target);
  assert.equal(snap.size, bytes.length);
  assert.deepEqual(Buffer.from(target.memory.view(0, RAM)), Buffer.from(mem.view(0, RAM)));
  assert.deepEqual(target.vcpus, [vcpuState(0), vcpuState(1)]);
  assert.deepEqual(target.vm, vmState());
  assert.deepEqual(target.devices, DEVICE_STATES);
  assert.deepEqual(target.calls.filter((c) => c !== 'memory'), ['vm', 'vcpu0', 'vcpu1', 'device0', 'device1']);
  assert.equal(snap.memory.length, 3, 'runs: pages 1-3, page 10, the last page');
});

test('later memory passes overwrite earlier ones, including pages that became zero', async () => {
  const mem = sourceMemory();
  const bytes = await writeSnapshot(mem, async (w) => {
    mem.fill(2 * 4096, 4096, 0); // the guest cleared page 2 ...
    mem.write(20 * 4096, Uint8Array.of(1, 2, 3)); // ... and wrote page 20
    await w.writePages(mem, 1, [2, 3, 20]);
  });
  const target = recordingTarget();
  await restoreSnapshot(new BufferSource(bytes), expected, target);
  assert.deepEqual(Buffer.from(target.memory.view(0, RAM)), Buffer.from(mem.view(0, RAM)));
});

test('a newer format version is refused by name', async () => {
  const bytes = await writeSnapshot();
  bytes.writeUInt32LE(7, 8);
  assert.equal(await restoreError(bytes), 'snapshot format version 7 is newer than this cuju supports (1): restore it with a newer cuju');
});

test('another file is not a snapshot', async () => {
  assert.match(await restoreError(Buffer.from('#!/bin/sh\necho hello, this is not a snapshot\n')), /not a cuju snapshot/);
  assert.match(await restoreError(Buffer.alloc(0)), /truncated/);
});

test('a snapshot of another machine is refused with the option to change', async () => {
  const bytes = await writeSnapshot();
  assert.equal(
    await restoreError(bytes, { ...expected, ramBytes: 2 * 1024 * 1024 }),
    'snapshot RAM size mismatch: the snapshot has 262144 bytes of RAM, this machine 2 MiB (cuju machines have whole MiB of RAM, so no cuju machine matches it)',
  );
  assert.match(await restoreError(bytes, { ...expected, vcpuCount: 1 }), /vCPU count mismatch.*-smp 2/);
  assert.match(await restoreError(bytes, { ...expected, devices: [MACHINE.devices[0]] }), /device mismatch/);
});

test('a device state the device refuses is refused before anything is applied', async () => {
  const bytes = await writeSnapshot();
  const validateDevice = (d: { id: string }) => { if (d.id === 'virtio-mmio.0') throw new Error('queue 0 size 9999 too large'); };
  assert.match(await restoreError(bytes, { ...expected, validateDevice }), /device virtio-blk 'virtio-mmio.0' is not usable: queue 0 size 9999/);
});

test('vCPU state that does not fit this host is refused before anything is applied', async () => {
  const bytes = await writeSnapshot();
  assert.match(await restoreError(bytes, { ...expected, capabilities: { ...CAPS, xcrs: false } }), /lacks KVM_CAP_XCRS/);
  assert.match(await restoreError(bytes, { ...expected, capabilities: { ...CAPS, xsaveSize: 8192 } }), /XSTATE is 8192/);
});

test('trailing bytes after the trailer are refused', async () => {
  const bytes = await writeSnapshot();
  assert.match(await restoreError(Buffer.concat([bytes, Buffer.of(0)])), /bytes after its end/);
});

test('the writer refuses sections out of order', async () => {
  const w = new SnapshotWriter(new Collector(), MACHINE);
  await w.writeVcpu(0, vcpuState(0));
  await assert.rejects(w.writeVm(vmState()), /out of order: found vm 0 where vcpu 1 should be/);
  await assert.rejects(w.writeRam(GuestMemory.fromBuffer(new Uint8Array(RAM).fill(1))), SnapshotError);
});

test('a reader refuses sections out of order even with valid CRCs and hash', async () => {
  // Swap the two vCPU sections and recompute the trailer: only the order is wrong.
  const frames = splitSections(await writeSnapshot());
  const v0 = frames.sections.findIndex((f) => f.readUInt32LE(0) === 2);
  [frames.sections[v0], frames.sections[v0 + 1]] = [frames.sections[v0 + 1], frames.sections[v0]];
  assert.equal(await restoreError(joinSections(frames)), 'snapshot section out of order: found vcpu 1 where a memory section (pass >= 0) or vcpu 0 should be');
});

test('a failing output stream is a SnapshotError, not an unhandled stream error', async () => {
  const out = new Writable({ write(_c, _e, cb) { cb(new Error('ENOSPC: no space left on device')); } });
  const w = new SnapshotWriter(out, MACHINE);
  await assert.rejects(
    (async () => { await w.writeRam(sourceMemory()); await w.writeVcpu(0, vcpuState(0)); await w.writeVcpu(1, vcpuState(1)); await w.writeVm(vmState()); })(),
    (e: Error) => e instanceof SnapshotError && /writing the snapshot failed: ENOSPC/.test(e.message),
  );
});
