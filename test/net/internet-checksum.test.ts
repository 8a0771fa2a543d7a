import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { internetChecksum, onesComplementSum } from '../../src/net/internet-checksum.js';

test('RFC 1071 example: sum 0xddf2, checksum 0x220d', () => {
  const bytes = Uint8Array.of(0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7);
  assert.equal(onesComplementSum(bytes), 0xddf2);
  assert.equal(internetChecksum(bytes), 0x220d);
});

test('a real IPv4 header checksums to its stored value', () => {
  // 45 00 00 73 00 00 40 00 40 11 [b8 61] c0 a8 00 01 c0 a8 00 c7 (Wikipedia's example)
  const header = Uint8Array.of(0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0, 0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7);
  assert.equal(internetChecksum(header), 0xb861);
});

test('storing the checksum makes the data verify (checksum over it is 0)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 2, maxLength: 300 }), (bytes) => {
      const data = Uint8Array.from(bytes);
      data[0] = 0;
      data[1] = 0;
      const sum = internetChecksum(data);
      data[0] = sum >> 8;
      data[1] = sum & 0xff;
      assert.equal(internetChecksum(data), 0);
    }),
  );
});

test('an odd length is padded with a zero byte; a range sums only that range', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 99 }).filter((b) => b.length % 2 === 1), (bytes) => {
      assert.equal(internetChecksum(bytes), internetChecksum(Uint8Array.of(...bytes, 0)));
      const framed = Uint8Array.of(7, ...bytes, 9);
      assert.equal(internetChecksum(framed, 1, 1 + bytes.length), internetChecksum(bytes));
    }),
  );
});
