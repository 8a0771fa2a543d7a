import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as C from '../../../src/devices/virtio/constants.js';
import * as P from '../../../src/devices/virtio-blk/protocol.js';
import { VirtioBlk } from '../../../src/devices/virtio-blk/virtio-blk.js';
import { RawImage } from '../../../src/block/raw-image.js';
import type { BlockBackend } from '../../../src/block/backend.js';
import { BlockIoError } from '../../../src/block/errors.js';
import { VirtioStateError } from '../../../src/devices/virtio/errors.js';
import { FakeDriver, type BufferSpec } from '../virtio/fake-driver.js';

const QSIZE = 16;
const DISK = 64 * 1024;

function header(type: number, sector = 0n): Uint8Array {
  const h = new Uint8Array(16);
  const dv = new DataView(h.buffer);
  dv.setUint32(0, type, true);
  dv.setBigUint64(8, sector, true);
  return h;
}

function pattern(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed) & 0xff);
}

async function withImage(fn: (path: string) => Promise<void>, content = new Uint8Array(DISK)): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-blk-'));
  const path = join(dir, 'disk.raw');
  writeFileSync(path, content);
  try {
    await fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function blkOn(backend: BlockBackend, serial = 'cuju-disk-0') {
  const blk = new VirtioBlk({ backend, serial, queueSize: QSIZE });
  const drv = new FakeDriver(blk, QSIZE);
  drv.start();
  /** Posts a request, notifies, waits for completion; returns status, used length and the buffers. */
  const request = async (specs: BufferSpec[]) => {
    const posted = drv.post(specs);
    drv.notify();
    await blk.quiesce();
    const used = drv.takeUsed();
    const statusBuf = posted.buffers.at(-1)!;
    return { used, status: drv.mem.readU8(statusBuf.gpa + statusBuf.len - 1), buffers: posted.buffers };
  };
  return { blk, drv, request };
}

test('config space and features: capacity in sectors, SEG_MAX, BLK_SIZE, FLUSH; RO only when read-only', async () => {
  await withImage(async (path) => {
    const image = await RawImage.open({ path, locker: null });
    const { drv } = await blkOn(image);
    assert.equal(drv.transport.read(0x100 + P.CFG_CAPACITY, 8), BigInt(DISK / 512));
    assert.equal(drv.transport.read(0x100 + P.CFG_SEG_MAX, 4), QSIZE - 2);
    assert.equal(drv.transport.read(0x100 + P.CFG_BLK_SIZE, 4), 512);
    const f = drv.transport.negotiatedFeatures;
    assert.ok(f & P.VIRTIO_BLK_F_FLUSH && f & P.VIRTIO_BLK_F_SEG_MAX && f & P.VIRTIO_BLK_F_BLK_SIZE);
    assert.equal(f & P.VIRTIO_BLK_F_RO, 0n);
    assert.ok(f & P.VIRTIO_BLK_F_DISCARD, 'writable raw images punch holes for DISCARD');
    await image.close();
    const ro = await RawImage.open({ path, locker: null, readonly: true });
    assert.ok(new VirtioBlk({ backend: ro }).features & P.VIRTIO_BLK_F_RO);
    assert.equal(new VirtioBlk({ backend: ro }).features & P.VIRTIO_BLK_F_DISCARD, 0n, 'no DISCARD on read-only images');
    await ro.close();
  });
});

test('OUT then IN across split data buffers reaches the file and comes back', async () => {
  await withImage(async (path) => {
    const image = await RawImage.open({ path, locker: null });
    const { request, drv } = await blkOn(image);
    const data = pattern(1536, 3);
    const w = await request([{ data: header(P.VIRTIO_BLK_T_OUT, 4n) }, { data: data.subarray(0, 1000) }, { data: data.subarray(1000) }, { writable: 1 }]);
    assert.equal(w.status, P.VIRTIO_BLK_S_OK);
    assert.equal(w.used[0].len, 1);
    assert.deepEqual(readFileSync(path).subarray(4 * 512, 4 * 512 + 1536), Buffer.from(data));

    const dirty: number[] = [];
    drv.mem.onWrite = (gpa) => dirty.push(gpa);
    const r = await request([{ data: header(P.VIRTIO_BLK_T_IN, 4n) }, { writable: 512 }, { writable: 1024 }, { writable: 1 }]);
    assert.equal(r.status, P.VIRTIO_BLK_S_OK);
    assert.equal(r.used[0].len, 1537);
    const back = new Uint8Array([...drv.mem.read(r.buffers[1].gpa, 512), ...drv.mem.read(r.buffers[2].gpa, 1024)]);
    assert.deepEqual(back, data);
    assert.ok(dirty.includes(r.buffers[1].gpa) && dirty.includes(r.buffers[2].gpa), 'data writes are dirty-tracked');
    await image.close();
  });
});

test('framing is free: header and data in one descriptor, data and status in one', async () => {
  await withImage(async (path) => {
    const image = await RawImage.open({ path, locker: null });
    const { request, drv } = await blkOn(image);
    const data = pattern(512, 9);
    const w = await request([{ data: new Uint8Array([...header(P.VIRTIO_BLK_T_OUT, 1n), ...data]) }, { writable: 1 }]);
    assert.equal(w.status, P.VIRTIO_BLK_S_OK);
    const r = await request([{ data: header(P.VIRTIO_BLK_T_IN, 1n) }, { writable: 513 }]);
    assert.equal(r.status, P.VIRTIO_BLK_S_OK);
    assert.deepEqual(drv.mem.read(r.buffers[1].gpa, 512), data);
    await image.close();
  });
});

test('FLUSH, GET_ID (20-byte serial), unknown types UNSUPP', async () => {
  await withImage(async (path) => {
    const image = await RawImage.open({ path, locker: null });
    const { request, drv } = await blkOn(image, 'serial-123');
    assert.equal((await request([{ data: header(P.VIRTIO_BLK_T_FLUSH) }, { writable: 1 }])).status, P.VIRTIO_BLK_S_OK);
    const id = await request([{ data: header(P.VIRTIO_BLK_T_GET_ID) }, { writable: 20 }, { writable: 1 }]);
    assert.equal(id.status, P.VIRTIO_BLK_S_OK);
    assert.equal(id.used[0].len, 21);
    const serial = Buffer.alloc(20);
    serial.write('serial-123');
    assert.deepEqual(Buffer.from(drv.mem.read(id.buffers[1].gpa, 20)), serial);
    assert.equal((await request([{ data: header(99) }, { writable: 1 }])).status, P.VIRTIO_BLK_S_UNSUPP);
    await image.close();
  });
});

test('DISCARD punches a hole: the range reads back as zeros, the rest is kept', async () => {
  await withImage(async (path) => {
    const image = await RawImage.open({ path, locker: null });
    const { request } = await blkOn(image);
    // struct virtio_blk_discard_write_zeroes { le64 sector; le32 num_sectors; le32 flags; }
    const seg = new Uint8Array(16);
    const dv = new DataView(seg.buffer);
    dv.setBigUint64(0, 8n, true); // sectors 8..23 = bytes 4096..12287
    dv.setUint32(8, 16, true);
    assert.equal((await request([{ data: header(P.VIRTIO_BLK_T_DISCARD) }, { data: seg }, { writable: 1 }])).status, P.VIRTIO_BLK_S_OK);
    await image.close();
    const after = readFileSync(path);
    assert.ok(after.subarray(4096, 12288).every((b) => b === 0), 'discarded range is zero');
    assert.deepEqual(after.subarray(0, 4096), Buffer.from(pattern(DISK, 3).subarray(0, 4096)), 'data before the range kept');
    assert.deepEqual(after.subarray(12288), Buffer.from(pattern(DISK, 3).subarray(12288)), 'data after the range kept');
  }, Uint8Array.from(pattern(DISK, 3)));
});

test('out-of-range and misaligned transfers fail with IOERR, the file untouched', async () => {
  await withImage(async (path) => {
    const image = await RawImage.open({ path, locker: null });
    const warnings: string[] = [];
    const blk = new VirtioBlk({ backend: image, queueSize: QSIZE, onWarning: (m) => warnings.push(m) });
    const drv = new FakeDriver(blk, QSIZE);
    drv.start();
    const post = async (specs: BufferSpec[]) => {
      const p = drv.post(specs);
      drv.notify();
      await blk.quiesce();
      return drv.mem.readU8(p.buffers.at(-1)!.gpa);
    };
    assert.equal(await post([{ data: header(P.VIRTIO_BLK_T_IN, BigInt(DISK / 512)) }, { writable: 512 }, { writable: 1 }]), P.VIRTIO_BLK_S_IOERR);
    assert.equal(await post([{ data: header(P.VIRTIO_BLK_T_OUT, 2n ** 63n) }, { data: new Uint8Array(512) }, { writable: 1 }]), P.VIRTIO_BLK_S_IOERR);
    assert.equal(await post([{ data: header(P.VIRTIO_BLK_T_OUT, 0n) }, { data: new Uint8Array(100).fill(1) }, { writable: 1 }]), P.VIRTIO_BLK_S_IOERR);
    assert.ok(readFileSync(path).every((b) => b === 0));
    assert.equal(warnings.length, 3);
    assert.equal(drv.status & C.STATUS_DEVICE_NEEDS_RESET, 0, 'a bad request is an I/O error, not a broken device');
    await image.close();
  });
});

test('readonly=on: OUT is refused with IOERR and the image is unchanged', async () => {
  await withImage(async (path) => {
    const image = await RawImage.open({ path, locker: null, readonly: true });
    const { request } = await blkOn(image);
    const w = await request([{ data: header(P.VIRTIO_BLK_T_OUT, 0n) }, { data: new Uint8Array(512).fill(7) }, { writable: 1 }]);
    assert.equal(w.status, P.VIRTIO_BLK_S_IOERR);
    assert.ok(readFileSync(path).every((b) => b === 0));
    await image.close();
  });
});

test('a request without header or status byte marks the device NEEDS_RESET', async () => {
  await withImage(async (path) => {
    const image = await RawImage.open({ path, locker: null });
    const { request, drv } = await blkOn(image);
    await request([{ data: new Uint8Array(8) }, { writable: 1 }]);
    assert.ok(drv.status & C.STATUS_DEVICE_NEEDS_RESET);
    await image.close();
  });
});

/** A back end whose operations wait until the test releases them; records calls; can discard. */
class GatedBackend implements BlockBackend {
  readonly sizeBytes = DISK;
  readonly canDiscard = true;
  readonly data = new Uint8Array(DISK);
  readonly calls: string[] = [];
  private gates: (() => void)[] = [];
  constructor(readonly readonly = false) {}
  acquire(n: number) { return new Uint8Array(n); }
  release() {}
  private gate(): Promise<void> { return new Promise((r) => this.gates.push(r)); }
  open(): void { for (const g of this.gates.splice(0)) g(); }
  get waiting(): number { return this.gates.length; }
  async read(off: number, buf: Uint8Array) { this.calls.push(`read ${off} ${buf.length}`); await this.gate(); buf.set(this.data.subarray(off, off + buf.length)); }
  async write(off: number, buf: Uint8Array) { this.calls.push(`write ${off} ${buf.length}`); await this.gate(); this.data.set(buf, off); }
  async flush() { this.calls.push('flush'); }
  async discard(off: number, len: number) {
    this.calls.push(`discard ${off} ${len}`);
    if (off + len > DISK) throw new BlockIoError('past end');
    this.data.fill(0, off, off + len);
  }
  async close() {}
}

function discardSegment(sector: bigint, sectors: number, flags = 0): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, sector, true);
  dv.setUint32(8, sectors, true);
  dv.setUint32(12, flags, true);
  return b;
}

test('DISCARD is offered when the back end can deallocate; UNMAP flag is UNSUPP', async () => {
  const backend = new GatedBackend();
  const { request, drv, blk } = await blkOn(backend);
  assert.ok(blk.features & P.VIRTIO_BLK_F_DISCARD);
  assert.equal(drv.transport.read(0x100 + P.CFG_MAX_DISCARD_SEG, 4), 1);
  const ok = await request([{ data: header(P.VIRTIO_BLK_T_DISCARD) }, { data: discardSegment(8n, 16) }, { writable: 1 }]);
  assert.equal(ok.status, P.VIRTIO_BLK_S_OK);
  assert.deepEqual(backend.calls, [`discard 4096 8192`]);
  const unmap = await request([{ data: header(P.VIRTIO_BLK_T_DISCARD) }, { data: discardSegment(8n, 16, 1) }, { writable: 1 }]);
  assert.equal(unmap.status, P.VIRTIO_BLK_S_UNSUPP);
  const past = await request([{ data: header(P.VIRTIO_BLK_T_DISCARD) }, { data: discardSegment(BigInt(DISK / 512), 1) }, { writable: 1 }]);
  assert.equal(past.status, P.VIRTIO_BLK_S_IOERR);
});

test('in-flight requests are saved by head and re-issued after restore', async () => {
  const backend = new GatedBackend();
  backend.data.set(pattern(512, 5), 512);
  const blk = new VirtioBlk({ backend, queueSize: QSIZE });
  const drv = new FakeDriver(blk, QSIZE);
  drv.start();
  const posted = drv.post([{ data: header(P.VIRTIO_BLK_T_IN, 1n) }, { writable: 512 }, { writable: 1 }]);
  drv.notify();
  assert.equal(blk.inFlightCount, 1);
  const saved = JSON.parse(JSON.stringify(drv.transport.saveState()));
  assert.deepEqual(saved.device, { version: 1, inFlight: [posted.head] });

  const blk2 = new VirtioBlk({ backend, queueSize: QSIZE });
  const drv2 = new FakeDriver(blk2, QSIZE);
  drv2.bytes.set(drv.bytes);
  drv2.transport.restoreState(saved);
  assert.equal(blk2.inFlightCount, 1, 're-issued on activation');
  backend.open();
  await blk2.quiesce();
  assert.deepEqual(drv2.takeUsed(), [{ id: posted.head, len: 513 }]);
  assert.deepEqual(drv2.mem.read(posted.buffers[1].gpa, 512), pattern(512, 5));
  assert.equal(drv2.mem.readU8(posted.buffers[2].gpa), P.VIRTIO_BLK_S_OK);
  assert.throws(() => blk2.restoreState({ version: 1, inFlight: [QSIZE] }), (e: Error) => e instanceof VirtioStateError && /inFlight\[0\]/.test(e.message));
  assert.throws(() => blk2.restoreState({ version: 1, inFlight: [1, 1] }), /twice/);
});

test('a reset drops completions of requests issued before it', async () => {
  const backend = new GatedBackend();
  const blk = new VirtioBlk({ backend, queueSize: QSIZE });
  const drv = new FakeDriver(blk, QSIZE);
  drv.start();
  const p = drv.post([{ data: header(P.VIRTIO_BLK_T_IN, 0n) }, { writable: 512 }, { writable: 1 }]);
  drv.mem.writeU8(p.buffers[2].gpa, 0x77);
  drv.notify();
  drv.w(C.REG_STATUS, 0);
  backend.data.fill(0xcc);
  backend.open();
  await new Promise((r) => setImmediate(r));
  assert.equal(drv.usedIdx(), 0);
  assert.equal(drv.mem.readU8(p.buffers[2].gpa), 0x77, 'status byte not written after reset');
  assert.ok(drv.mem.read(p.buffers[1].gpa, 512).every((b) => b === 0), 'data not copied after reset');
});

test('cache=none: O_DIRECT aligned and unaligned requests both work', async () => {
  await withImage(async (path) => {
    let image: RawImage;
    try {
      image = await RawImage.open({ path, locker: null, cache: 'none' });
    } catch (e) {
      if ((e as Error).name === 'NativeAddonMissingError') return; // needs the addon's mmapAnonymous
      throw e;
    }
    const { request, drv } = await blkOn(image);
    const a = pattern(4096, 1);
    assert.equal((await request([{ data: header(P.VIRTIO_BLK_T_OUT, 8n) }, { data: a }, { writable: 1 }])).status, P.VIRTIO_BLK_S_OK);
    const b = pattern(512, 2);
    assert.equal((await request([{ data: header(P.VIRTIO_BLK_T_OUT, 3n) }, { data: b }, { writable: 1 }])).status, P.VIRTIO_BLK_S_OK);
    assert.equal((await request([{ data: header(P.VIRTIO_BLK_T_FLUSH) }, { writable: 1 }])).status, P.VIRTIO_BLK_S_OK);
    const file = readFileSync(path);
    assert.deepEqual(file.subarray(8 * 512, 8 * 512 + 4096), Buffer.from(a));
    assert.deepEqual(file.subarray(3 * 512, 4 * 512), Buffer.from(b));
    const r = await request([{ data: header(P.VIRTIO_BLK_T_IN, 8n) }, { writable: 4096 }, { writable: 1 }]);
    assert.deepEqual(drv.mem.read(r.buffers[1].gpa, 4096), a);
    await image.close();
  });
});
