/**
 * The disk-copy records (src/ft/disk-sync/format.ts): every record round-trips, and a
 * damaged stream (a flipped byte anywhere, a cut anywhere, random bytes) is refused
 * with a DiskCopyError, never decoded into something else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { crc32 } from 'node:zlib';
import { DiskCopyError } from '../../../src/ft/disk-sync/errors.js';
import { encodeRecord, FRAME_HEADER_SIZE, MAX_DATA_BYTES, readRecord, type DiskRecord } from '../../../src/ft/disk-sync/format.js';
import { bufferReader, concat } from './helpers.js';

const record: fc.Arbitrary<DiskRecord> = fc.oneof(
  fc.record({
    type: fc.constant('manifest' as const),
    disks: fc.array(fc.record({
      id: fc.string({ minLength: 1, maxLength: 40 }),
      sizeBytes: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
      mode: fc.constantFrom('replicated' as const, 'readonly' as const, 'shared' as const),
    }), { maxLength: 6 }),
  }),
  fc.record({ type: fc.constant('data' as const), disk: fc.nat(255), offset: fc.nat({ max: 2 ** 50 }), data: fc.uint8Array({ minLength: 1, maxLength: 3000 }) }),
  fc.record({ type: fc.constant('zero' as const), disk: fc.nat(255), offset: fc.nat({ max: 2 ** 50 }), length: fc.integer({ min: 1, max: 2 ** 50 }) }),
  fc.record({ type: fc.constant('digest' as const), disk: fc.nat(255), sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }) }),
  fc.constant({ type: 'end' as const }),
);

/** Reads records until the buffer is used up. */
async function readAll(bytes: Uint8Array): Promise<DiskRecord[]> {
  const reader = bufferReader(bytes);
  const out: DiskRecord[] = [];
  while (reader.offset < bytes.length) out.push(await readRecord(reader, out.length));
  return out;
}

function normalise(r: DiskRecord): unknown {
  if (r.type === 'data') return { ...r, data: Buffer.from(r.data).toString('hex') };
  if (r.type === 'digest') return { ...r, sha256: Buffer.from(r.sha256).toString('hex') };
  if (r.type === 'manifest') return { type: r.type, disks: r.disks.map((d) => ({ ...d })) };
  return { ...r };
}

test('records round-trip, in any sequence', async () => {
  await fc.assert(fc.asyncProperty(fc.array(record, { maxLength: 8 }), async (records) => {
    const back = await readAll(concat(records.map(encodeRecord)));
    assert.deepEqual(back.map(normalise), records.map(normalise));
  }));
});

test('a flipped byte anywhere in a record is refused as damage', async () => {
  await fc.assert(fc.asyncProperty(record, fc.nat(), fc.integer({ min: 1, max: 255 }), async (r, at, xor) => {
    const bytes = concat([encodeRecord(r)]);
    bytes[at % bytes.length] ^= xor;
    await assert.rejects(readAll(bytes), DiskCopyError);
  }));
});

test('a stream cut anywhere is refused, naming where it ended', async () => {
  await fc.assert(fc.asyncProperty(record, fc.nat(), async (r, cut) => {
    const bytes = concat([encodeRecord(r)]);
    const short = bytes.subarray(0, cut % bytes.length);
    if (short.length === 0) return;
    await assert.rejects(readAll(short), (e: unknown) => e instanceof DiskCopyError && /inside/.test(e.message));
  }));
});

test('random bytes never decode into anything but a DiskCopyError (or, by chance, valid records)', async () => {
  await fc.assert(fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
    try {
      await readAll(bytes);
    } catch (e) {
      assert.ok(e instanceof DiskCopyError, `threw ${(e as Error).name}: ${(e as Error).message}`);
    }
  }), { numRuns: 2000 });
});

test('lengths are checked before any payload is read: a huge claimed length is refused at once', async () => {
  const bytes = concat([encodeRecord({ type: 'data', disk: 0, offset: 0, data: new Uint8Array(10) })]);
  Buffer.from(bytes.buffer, bytes.byteOffset).writeBigUInt64LE(BigInt(MAX_DATA_BYTES + 9), 8);
  const reads: number[] = [];
  const reader = bufferReader(bytes);
  await assert.rejects(readRecord((n, what) => { reads.push(n); return reader(n, what); }, 0), /claims 1048585 bytes, more than a data record holds \(1048584\)/);
  assert.deepEqual(reads, [FRAME_HEADER_SIZE], 'only the header was read');
});

test('structure: unknown types and modes, stray disk fields, empty data, bad UTF-8 ids are refused', async () => {
  // A frame built by hand (with a correct CRC), for payloads encodeRecord would never make.
  const reframe = (type: number, disk: number, payload: Uint8Array) => {
    const header = Buffer.alloc(16);
    header.writeUInt32LE(type, 0);
    header.writeUInt32LE(disk, 4);
    header.writeBigUInt64LE(BigInt(payload.length), 8);
    const crc = Buffer.alloc(4);
    crc.writeUInt32LE(crc32(Buffer.concat([header, payload])), 0);
    return Buffer.concat([header, payload, crc]);
  };
  await assert.rejects(readAll(reframe(9, 0, new Uint8Array(0))), /unknown type 9/);
  await assert.rejects(readAll(reframe(0xffffffff, 3, new Uint8Array(0))), /disk field 3, must be 0/);
  await assert.rejects(readAll(reframe(2, 0, new Uint8Array(8))), /carries no data/);
  await assert.rejects(readAll(reframe(2, 256, new Uint8Array(9))), /names disk 256/);
  await assert.rejects(readAll(reframe(3, 0, new Uint8Array(16))), /covers no bytes/);
  const manifest = (mode: number, id: Uint8Array) => {
    const b = Buffer.alloc(4 + 14);
    b.writeUInt32LE(1, 0);
    b.writeBigUInt64LE(4096n, 4);
    b.writeUInt32LE(mode, 12);
    b.writeUInt16LE(id.length, 16);
    return Buffer.concat([b, id]);
  };
  await assert.rejects(readAll(reframe(1, 0, manifest(7, Buffer.from('d0')))), /unknown mode/);
  await assert.rejects(readAll(reframe(1, 0, manifest(1, Buffer.of(0xff, 0xfe)))), /not UTF-8/);
  await assert.rejects(readAll(reframe(1, 0, Buffer.concat([manifest(1, Buffer.from('d0')), Buffer.of(0)]))), /1 bytes after its last disk/);
  assert.deepEqual(await readAll(reframe(1, 0, manifest(1, Buffer.from('d0')))), [{ type: 'manifest', disks: [{ id: 'd0', sizeBytes: 4096, mode: 'replicated' }] }]);
});
