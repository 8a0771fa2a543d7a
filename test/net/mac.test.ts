import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MacAddress, QEMU_DEFAULT_MAC_COUNT } from '../../src/net/mac.js';
import { BadMacError } from '../../src/net/errors.js';

const unicastBytes = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => {
  b[0] &= 0xfe;
  return b;
});

test('parse accepts the documented forms and formats lower-case with colons', () => {
  assert.equal(MacAddress.parse('ae:ae:00:00:00:25').toString(), 'ae:ae:00:00:00:25');
  assert.equal(MacAddress.parse('52-54-00-AB-cd-EF').toString(), '52:54:00:ab:cd:ef');
  assert.deepEqual(MacAddress.parse('02:00:00:00:00:01').bytes, Uint8Array.of(2, 0, 0, 0, 0, 1));
});

test('parse rejects bad syntax with BadMacError naming the input', () => {
  for (const bad of ['', '52:54:00:12:34', '52:54:00:12:34:56:78', '52:54:00:12:34:5g', '52:54-00:12:34:56', '5254.0012.3456', ' 52:54:00:12:34:56', '52:54:00:12:34:567', '2:54:00:12:34:56']) {
    assert.throws(() => MacAddress.parse(bad), (e: unknown) => e instanceof BadMacError && e.message.includes(`'${bad}'`), bad);
  }
});

test('multicast and broadcast addresses are refused with the fix in the message', () => {
  for (const bad of ['01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff', '33:33:00:00:00:01']) {
    assert.throws(() => MacAddress.parse(bad), /multicast address.*even first byte/);
  }
  assert.throws(() => MacAddress.fromBytes(Uint8Array.of(1, 2, 3, 4, 5, 6)), BadMacError);
  assert.throws(() => MacAddress.fromBytes(Uint8Array.of(2, 2, 3)), /6 bytes/);
});

test('format then parse gives the same bytes, for any unicast address', () => {
  fc.assert(
    fc.property(unicastBytes, (bytes) => {
      const mac = MacAddress.fromBytes(bytes);
      const again = MacAddress.parse(mac.toString());
      assert.deepEqual(again.bytes, bytes);
      assert.ok(again.equals(mac));
      assert.equal(MacAddress.parse(mac.toString().toUpperCase().replaceAll(':', '-')).toString(), mac.toString());
    }),
  );
});

test('any multicast byte pattern is refused', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (bytes) => {
      bytes[0] |= 1;
      assert.throws(() => MacAddress.fromBytes(bytes), BadMacError);
    }),
  );
});

test('the MAC does not alias the caller’s bytes', () => {
  const bytes = Uint8Array.of(2, 0, 0, 0, 0, 1);
  const mac = MacAddress.fromBytes(bytes);
  bytes[5] = 9;
  mac.bytes[5] = 7;
  assert.equal(mac.toString(), '02:00:00:00:00:01');
  const frame = new Uint8Array(8);
  mac.writeTo(frame, 2);
  assert.deepEqual([...frame], [0, 0, 2, 0, 0, 0, 0, 1]);
});

test('QEMU default MACs: 52:54:00:12:34:56 plus the NIC index, up to ...:fe', () => {
  assert.equal(MacAddress.qemuDefault(0).toString(), '52:54:00:12:34:56');
  assert.equal(MacAddress.qemuDefault(1).toString(), '52:54:00:12:34:57');
  assert.equal(MacAddress.qemuDefault(QEMU_DEFAULT_MAC_COUNT - 1).toString(), '52:54:00:12:34:fe');
  assert.throws(() => MacAddress.qemuDefault(QEMU_DEFAULT_MAC_COUNT), /explicit mac=/);
  assert.throws(() => MacAddress.qemuDefault(-1), BadMacError);
});
