import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeVnetHeader, encodeVnetHeader, PLAIN_VNET_HEADER, VNET_HEADER_SIZE, VnetFlags, VnetGso, VnetHeaderError, type VnetHeader } from '../../src/net/vnet-header.js';

const header: fc.Arbitrary<VnetHeader> = fc.record({
  flags: fc.integer({ min: 0, max: 0xff }),
  gsoType: fc.integer({ min: 0, max: 0xff }),
  hdrLen: fc.integer({ min: 0, max: 0xffff }),
  gsoSize: fc.integer({ min: 0, max: 0xffff }),
  csumStart: fc.integer({ min: 0, max: 0xffff }),
  csumOffset: fc.integer({ min: 0, max: 0xffff }),
  numBuffers: fc.integer({ min: 0, max: 0xffff }),
});

test('encode then decode is the identity, at any offset in a larger buffer', () => {
  fc.assert(
    fc.property(header, fc.integer({ min: 0, max: 20 }), (h, offset) => {
      const buf = new Uint8Array(offset + VNET_HEADER_SIZE + 3).fill(0xaa);
      encodeVnetHeader(h, buf, offset);
      assert.deepEqual(decodeVnetHeader(buf, offset), { ...h }); // fc.record objects have a null prototype
      assert.ok(buf.subarray(0, offset).every((b) => b === 0xaa), 'bytes before untouched');
      assert.ok(buf.subarray(offset + VNET_HEADER_SIZE).every((b) => b === 0xaa), 'bytes after untouched');
    }),
  );
});

test('decode then encode gives back the same 12 bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), (bytes) => {
      assert.deepEqual(encodeVnetHeader(decodeVnetHeader(bytes)), bytes);
    }),
  );
});

test('layout matches struct virtio_net_hdr_v1 (little-endian fields)', () => {
  const bytes = encodeVnetHeader({
    flags: VnetFlags.NEEDS_CSUM,
    gsoType: VnetGso.TCPV4 | VnetGso.ECN,
    hdrLen: 0x0102,
    gsoSize: 0x0304,
    csumStart: 0x0506,
    csumOffset: 0x0708,
    numBuffers: 0x090a,
  });
  assert.deepEqual([...bytes], [0x01, 0x81, 0x02, 0x01, 0x04, 0x03, 0x06, 0x05, 0x08, 0x07, 0x0a, 0x09]);
  assert.deepEqual([...encodeVnetHeader(PLAIN_VNET_HEADER)], new Array(12).fill(0));
});

test('out-of-range fields and short buffers are refused', () => {
  assert.throws(() => encodeVnetHeader({ ...PLAIN_VNET_HEADER, gsoSize: 0x10000 }), /gso_size = 65536/);
  assert.throws(() => encodeVnetHeader({ ...PLAIN_VNET_HEADER, flags: -1 }), VnetHeaderError);
  assert.throws(() => encodeVnetHeader({ ...PLAIN_VNET_HEADER, csumStart: 1.5 }), VnetHeaderError);
  assert.throws(() => encodeVnetHeader(PLAIN_VNET_HEADER, new Uint8Array(12), 1), /need 12 bytes/);
  assert.throws(() => decodeVnetHeader(new Uint8Array(11)), /needs 12 bytes, got 11/);
});
