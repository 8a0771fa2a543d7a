import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32 } from 'node:zlib';
import { crc32Continue, crc32Of } from '../../src/snapshot/crc.js';

test('an empty piece leaves the CRC alone, whatever buffer backs it', () => {
  const frame = Buffer.from('frame header....');
  const base = crc32(frame);
  for (const empty of [new Uint8Array(new ArrayBuffer(0)), Buffer.alloc(0), Buffer.alloc(8).subarray(8)]) {
    assert.equal(crc32Continue(empty, base), base);
    assert.equal(crc32Of(frame, empty), base);
  }
  assert.equal(crc32Of(Buffer.from('ab'), Buffer.from('c')), crc32('abc'));
});
