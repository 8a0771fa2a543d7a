/**
 * sparseExtents (src/ft/disk-sync/sparse-reader.ts): the extents tile the image exactly,
 * rebuild it byte for byte, zero extents cover only zeros, and no all-zero grain is sent
 * as data; also over a real sparse file (RawImage), where holes read as zeros.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { mkdtempSync, rmSync, openSync, writeSync, ftruncateSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BlockBackend } from '../../../src/block/backend.js';
import { RawImage } from '../../../src/block/raw-image.js';
import { sparseExtents, type Extent } from '../../../src/ft/disk-sync/sparse-reader.js';
import { MemoryDisk } from '../output/fakes.js';

async function collect(image: BlockBackend, blockBytes: number, grainBytes: number): Promise<Extent[]> {
  const out: Extent[] = [];
  for await (const e of sparseExtents(image, { blockBytes, grainBytes })) out.push(e);
  return out;
}

function checkExtents(extents: Extent[], bytes: Uint8Array, blockBytes: number, grainBytes: number): void {
  const rebuilt = new Uint8Array(bytes.length).fill(0xee);
  let at = 0;
  for (const e of extents) {
    assert.equal(e.offset, at, 'extents tile the image in order');
    if (e.kind === 'data') {
      assert.ok(e.data.length >= 1 && e.data.length <= blockBytes, `data extent of ${e.data.length} bytes`);
      rebuilt.set(e.data, e.offset);
      for (let g = 0; g < e.data.length; g += grainBytes) {
        assert.ok(e.data.subarray(g, g + grainBytes).some((b) => b !== 0), `an all-zero grain at ${e.offset + g} was sent as data`);
      }
      at += e.data.length;
    } else {
      rebuilt.fill(0, e.offset, e.offset + e.length);
      at += e.length;
    }
  }
  assert.equal(at, bytes.length, 'the extents cover the whole image');
  assert.ok(Buffer.from(rebuilt).equals(Buffer.from(bytes)), 'the extents rebuild the image');
}

test('extents tile and rebuild any image, zeros left out', async () => {
  await fc.assert(fc.asyncProperty(
    fc.integer({ min: 0, max: 40_000 }),
    fc.array(fc.record({ at: fc.nat(40_000), data: fc.uint8Array({ minLength: 1, maxLength: 3000 }) }), { maxLength: 8 }),
    fc.constantFrom([4096, 512], [8192, 1024], [1000, 250]),
    async (size, writes, [blockBytes, grainBytes]) => {
      const disk = new MemoryDisk(size);
      for (const w of writes) if (w.at < size) disk.bytes.set(w.data.subarray(0, size - w.at), w.at);
      checkExtents(await collect(disk, blockBytes, grainBytes), disk.bytes, blockBytes, grainBytes);
    },
  ));
});

test('a real sparse file: holes come back as zero extents, data as data', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-sparse-'));
  try {
    const path = join(dir, 'disk.raw');
    const fd = openSync(path, 'w');
    ftruncateSync(fd, 16 * 1048576);
    writeSync(fd, Buffer.alloc(5000, 1), 0, 5000, 3 * 1048576 + 100);
    writeSync(fd, Buffer.alloc(10, 2), 0, 10, 16 * 1048576 - 10);
    closeSync(fd);
    const image = await RawImage.open({ path, locker: null });
    try {
      const extents = await collect(image, 1048576, 65536);
      assert.deepEqual(extents.map((e) => [e.kind, e.offset, e.kind === 'data' ? e.data.length : e.length]), [
        ['zero', 0, 3 * 1048576],
        ['data', 3 * 1048576, 65536],
        ['zero', 3 * 1048576 + 65536, 13 * 1048576 - 65536 * 2],
        ['data', 16 * 1048576 - 65536, 65536],
      ]);
      const whole = Buffer.alloc(16 * 1048576);
      await image.read(0, whole);
      checkExtents(extents, whole, 1048576, 65536);
    } finally {
      await image.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
