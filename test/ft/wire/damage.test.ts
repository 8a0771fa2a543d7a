/**
 * Damaged input: every truncation point, every single-byte flip, and lengths that claim
 * more than the limits or the frame, all rejected as FtWireError, and never by waiting
 * for (or allocating) bytes the sender did not send: the test streams fail loudly when
 * a reader asks for more than the message had.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32Of } from '../../../src/snapshot/crc.js';
import { encodeVcpuState } from '../../../src/snapshot/vcpu-codec.js';
import { encodeVmState } from '../../../src/snapshot/vm-codec.js';
import { FtWireError } from '../../../src/ft/wire/errors.js';
import { FRAME_HEADER_SIZE, MessageType } from '../../../src/ft/wire/format.js';
import { encodeFrameHeader } from '../../../src/ft/wire/frame.js';
import { backupReader, drain, epoch, FPU_MACHINE, fpuVcpuState, frames, hello, PAGE, patternRam, READ_PAST } from './fixtures.js';

const HELLO = frames([hello('primary')]);
/** Page 1 has content, page 5 is zero; one small vCPU state; a disk write and a discard. */
const EPOCH = {
  ...epoch(1, [1, 5], { ram: patternRam(7, [5]) }),
  vcpus: [fpuVcpuState(1)],
  diskOps: [{ kind: 'write' as const, device: 1, offset: 4096, data: new Uint8Array(300).fill(9) }, { kind: 'discard' as const, device: 0, offset: 0, length: 512 }],
};
const reader = (bytes: Uint8Array, failPastEnd = false) => backupReader(bytes, { machine: FPU_MACHINE, failPastEnd });
const STREAM = frames([hello('primary'), { type: 'epoch', content: EPOCH }]);

test('every truncation point rejects; only message boundaries end cleanly', async () => {
  for (let k = 0; k < STREAM.length; k++) {
    const { messages, error } = await drain(reader(STREAM.subarray(0, k)));
    if (k === 0 || k === HELLO.length) {
      assert.equal(error, undefined, `cut at ${k}`);
      assert.equal(messages.length, k === 0 ? 0 : 1);
      continue;
    }
    assert.ok(error instanceof FtWireError, `cut at ${k}: ${error}`);
    assert.match(error.message, /ended early/, `cut at ${k}`);
    assert.equal(messages.length, k < HELLO.length ? 0 : 1, `cut at ${k}: no partial epoch is yielded`);
  }
});

test('single-byte flips reject without reading past the message (every byte but the page data: every 13th)', async () => {
  // Page bytes are checked only by the CRC and SHA-256, the same way for every byte.
  const pageData = (i: number) => i >= PAGE_DATA && i < PAGE_DATA + PAGE;
  for (let i = 0; i < STREAM.length; i += pageData(i) ? 13 : 1) {
    const bytes = Buffer.from(STREAM);
    bytes[i] ^= (i * 7) % 255 + 1;
    const { messages, error } = await drain(reader(bytes, true));
    assert.ok(error instanceof FtWireError, `flip at ${i}: ${error}`);
    assert.doesNotMatch(error.message, new RegExp(READ_PAST), `flip at ${i}`);
    assert.ok(messages.every((m) => m.type === 'hello'), `flip at ${i}: no damaged epoch is yielded`);
  }
});

/** A frame header with a valid CRC and the given claims. */
function header(type: number, length: number, seq: number): Buffer {
  const h = Buffer.alloc(FRAME_HEADER_SIZE);
  h.writeUInt32LE(type, 0);
  h.writeUInt32LE(length, 4);
  h.writeBigUInt64LE(BigInt(seq), 8);
  h.writeUInt32LE(crc32Of(h.subarray(0, 16)), 16);
  return h;
}

async function rejectsEarly(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  const { error } = await drain(reader(bytes, true));
  assert.ok(error instanceof FtWireError, String(error));
  assert.match(error.message, pattern);
  assert.doesNotMatch(error.message, new RegExp(READ_PAST));
}

test('frame lengths beyond a message type\'s limit are refused from the header alone', async () => {
  const cases: [MessageType, number, number][] = [
    [MessageType.Hello, 0, 256 * 1024 + 1],
    [MessageType.Hello, 0, 0xffffffff],
    [MessageType.Epoch, 1, 0xffffffff],
    [MessageType.Cancel, 1, 4097],
    [MessageType.Heartbeat, 1, 9],
    [MessageType.Heartbeat, 1, 7],
  ];
  for (const [type, seq, length] of cases) {
    const prefix = seq === 0 ? Buffer.alloc(0) : HELLO;
    await rejectsEarly(Buffer.concat([prefix, header(type, length, seq)]), /claims a \d+-byte payload/);
  }
  await rejectsEarly(header(77, 10, 0), /unknown type 77/);
  // encodeFrameHeader refuses what no frame can hold.
  assert.throws(() => encodeFrameHeader(MessageType.Epoch, 2 ** 32, 1), RangeError);
});

/** Offsets inside STREAM's EPOCH payload, from the layout in docs/PROTOCOL.md. */
const P = HELLO.length + FRAME_HEADER_SIZE;
const RUN_COUNT = P + 16;
const RUN0_COUNT = P + 24;
const PAGE_DATA = P + 20 + 2 * 8;
const VCPU_COUNT = PAGE_DATA + PAGE;
const VCPU0_LEN = VCPU_COUNT + 4;
const VM_LEN = VCPU0_LEN + 4 + encodeVcpuState(EPOCH.vcpus[0]).length;
const DEVICE_COUNT = VM_LEN + 4 + encodeVmState(EPOCH.vm).length;
const DEVICE0_LEN = DEVICE_COUNT + 4;
const DISK_COUNT = DEVICE0_LEN + 4 + JSON.stringify(EPOCH.devices[0]).length + 4 + JSON.stringify(EPOCH.devices[1]).length;
const DISK0_LEN = DISK_COUNT + 4 + 16;

function patched(at: number, write: (b: Buffer) => void): Buffer {
  const b = Buffer.from(STREAM);
  write(b.subarray(at));
  return b;
}

test('the layout offsets used below are right', () => {
  assert.equal(STREAM.readUInt32LE(RUN_COUNT), 2);
  assert.equal(STREAM.readUInt32LE(VCPU_COUNT), 1);
  assert.equal(STREAM.readUInt32LE(DEVICE_COUNT), 2);
  assert.equal(STREAM.readUInt32LE(DISK_COUNT), 2);
  assert.equal(Number(STREAM.readBigUInt64LE(DISK0_LEN)), 300);
});

test('inner counts and lengths beyond their limits are refused before their bytes are read', async () => {
  const u32 = (at: number, v: number) => patched(at, (b) => b.writeUInt32LE(v, 0));
  await rejectsEarly(u32(RUN_COUNT, 0xffffffff), /claims 4294967295 page runs/);
  await rejectsEarly(u32(RUN0_COUNT, 0x7fffffff), /outside guest RAM/);
  await rejectsEarly(u32(VCPU_COUNT, 1000), /carries 1000 vCPU states, the machine has 1/);
  await rejectsEarly(u32(VCPU0_LEN, 0xffffffff), /claims 4294967295 bytes, more than the 1048576 allowed/);
  await rejectsEarly(u32(VCPU0_LEN, 1024 * 1024), /runs past the end of the message/);
  await rejectsEarly(u32(VM_LEN, 0x10000000), /VM state claims/);
  await rejectsEarly(u32(DEVICE0_LEN, 0x7fffffff), /serial 'serial0' claims/);
  await rejectsEarly(u32(DISK_COUNT, 0xffffffff), /claims 4294967295 disk operations/);
  await rejectsEarly(patched(DISK0_LEN, (b) => b.writeBigUInt64LE(2n ** 40n, 0)), /disk writes to \d+ bytes/);
  await rejectsEarly(patched(DISK0_LEN, (b) => b.writeBigUInt64LE(2n ** 63n, 0)), /beyond what cuju uses/);
});

test('a reader stays failed after an error', async () => {
  const bytes = Buffer.from(STREAM);
  bytes[bytes.length - 1] ^= 1;
  const r = reader(bytes);
  assert.equal((await r.next())?.type, 'hello');
  const first = await r.next().catch((e: Error) => e);
  assert.match(String(first), /fails its CRC check/);
  assert.equal(await r.next().catch((e: Error) => e), first);
});
