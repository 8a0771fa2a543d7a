/**
 * Property tests of the reader: any corruption or truncation of a valid snapshot is a
 * SnapshotError (never another exception, never a hang) and leaves the target untouched.
 */
import { after, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BufferSource } from '../../src/snapshot/byte-source.js';
import { restoreSnapshot, restoreSnapshotFile } from '../../src/snapshot/machine-snapshot.js';
import { SnapshotError } from '../../src/snapshot/errors.js';
import { CAPS, MACHINE, RAM, recordingTarget, writeValidSnapshot } from './fixtures.js';

const validSnapshot = writeValidSnapshot;

const expected = { ...MACHINE, capabilities: CAPS };

const scratch = mkdtempSync(join(tmpdir(), 'cuju-snapfuzz-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Through a file when `viaFile` (FileSource allocates what a length field claims, so it is the stricter test). */
async function assertRefusedUntouched(bytes: Uint8Array, viaFile = false): Promise<void> {
  const target = recordingTarget();
  let error: unknown;
  try {
    if (viaFile) {
      const path = join(scratch, 'bad.snap');
      writeFileSync(path, bytes);
      await restoreSnapshotFile(path, expected, target);
    } else {
      await restoreSnapshot(new BufferSource(bytes), expected, target);
    }
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof SnapshotError, `expected a SnapshotError, got ${String(error)}`);
  assert.doesNotMatch(error.message, /\n/, 'one line');
  assert.deepEqual(target.calls, []);
  assert.ok(Buffer.from(target.memory.view(0, RAM)).equals(Buffer.alloc(RAM)), 'target RAM untouched');
}

test('a valid snapshot restores (the baseline the properties mutate)', async () => {
  const target = recordingTarget();
  await restoreSnapshot(new BufferSource(await validSnapshot()), expected, target);
  assert.equal(target.vcpus.length, 2);
});

test('every truncation is refused', async () => {
  const bytes = await validSnapshot();
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: bytes.length - 1 }), async (len) => assertRefusedUntouched(bytes.subarray(0, len))),
    { numRuns: 300 },
  );
});

test('every corruption (bytes flipped anywhere, header to trailer) is refused', async () => {
  const bytes = await validSnapshot();
  const flip = fc.record({ at: fc.integer({ min: 0, max: bytes.length - 1 }), xor: fc.integer({ min: 1, max: 255 }) });
  await fc.assert(
    fc.asyncProperty(fc.array(flip, { minLength: 1, maxLength: 8 }), async (flips) => {
      const bad = Buffer.from(bytes);
      const seen = new Set<number>();
      for (const f of flips) {
        if (seen.has(f.at)) continue; // two flips of one byte could cancel out
        seen.add(f.at);
        bad[f.at] ^= f.xor;
      }
      await assertRefusedUntouched(bad);
    }),
    { numRuns: 500 },
  );
});

test('corruption of the structure fields (lengths, types, indexes) is refused', async () => {
  const bytes = await validSnapshot();
  // The first bytes of the header and of every section frame hold the fields a reader trusts most.
  const headerSize = bytes.readUInt32LE(16);
  const frameStarts: number[] = [];
  for (let off = headerSize; off < bytes.length - 32;) {
    frameStarts.push(off);
    off += 16 + Number(bytes.readBigUInt64LE(off + 8)) + 4;
  }
  const field = fc.oneof(
    fc.integer({ min: 0, max: headerSize - 1 }),
    fc.tuple(fc.constantFrom(...frameStarts), fc.integer({ min: 0, max: 15 })).map(([s, o]) => s + o),
  );
  await fc.assert(
    fc.asyncProperty(field, fc.integer({ min: 0, max: 0xffffffff }), async (at, value) => {
      const bad = Buffer.from(bytes);
      const pos = Math.min(at, bad.length - 4);
      if (bad.readUInt32LE(pos) === value) return;
      bad.writeUInt32LE(value, pos);
      await assertRefusedUntouched(bad, true);
    }),
    { numRuns: 300 },
  );
});

test('random bytes are refused', async () => {
  await fc.assert(
    fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (junk) => assertRefusedUntouched(junk)),
    { numRuns: 200 },
  );
});
