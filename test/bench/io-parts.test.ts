/** The pure parts of bench:io: the guest-clock wrapper, the kernel command line, the result table. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { guestTimed } from '../../bench/io/guest-clock.js';
import { kernelAppend } from '../../bench/io/vmm-args.js';
import { markdownTable, ratioCell, textTable, threeDigits, type Row } from '../../bench/io/table.js';

test('guestTimed wraps the command with fork-free /proc/uptime reads and keeps its status', () => {
  const t = guestTimed('dd if=/dev/vda of=/dev/null bs=1M count=16 iflag=direct');
  assert.match(t.line, /^read t0 _ < \/proc\/uptime; dd if=\/dev\/vda .*; st=\$\?; read t1 _ < \/proc\/uptime; echo guest-clock \$t0 \$t1 \$st$/);
  const out = '16+0 records in\n16+0 records out\nguest-clock 1234.56 1236.81 0\n';
  const parsed = t.parse(out)!;
  assert.equal(parsed.status, 0);
  assert.ok(Math.abs(parsed.seconds - 2.25) < 1e-9);
  assert.equal(t.parse('guest-clock 1.00 2.00 1\n')!.status, 1);
});

test('guestTimed does not mistake the echoed command line for its result', () => {
  const t = guestTimed(':');
  assert.equal(t.parse('read t0 _ < /proc/uptime; :; st=$?; read t1 _ < /proc/uptime; echo guest-clock $t0 $t1 $st\n'), undefined);
});

test('kernelAppend configures eth0 through ip= only when the guest has a NIC', () => {
  assert.equal(kernelAppend({ image: '/x' }), 'console=ttyS0 quiet');
  assert.equal(
    kernelAppend({ image: '/x', net: { tap: 't', mac: '52:54:00:12:34:56', guestAddress: '10.240.1.2', gateway: '10.240.1.1' } }),
    'console=ttyS0 quiet ip=10.240.1.2::10.240.1.1:255.255.255.0::eth0:off',
  );
});

test('the table prints both VMMs, the ratio, and why a value is missing', () => {
  const rows: Row[] = [
    { metric: 'disk read', values: [2, 200], format: (v) => `${v} MiB/s` },
    { metric: 'TCP', values: [undefined, 10], format: (v) => `${v} MiB/s`, missing: ['no virtio-net in this build', 'n/a'] },
  ];
  assert.equal(ratioCell([2, 200]), '0.0100');
  assert.equal(ratioCell([undefined, 200]), '–');
  const text = textTable(['metric', 'cuju', 'qemu', 'cuju ÷ QEMU'], rows);
  assert.match(text, /disk read\s+2 MiB\/s\s+200 MiB\/s\s+0\.0100/);
  assert.match(text, /TCP\s+no virtio-net in this build\s+10 MiB\/s\s+–/);
  const md = markdownTable(['metric', 'cuju', 'qemu', 'cuju ÷ QEMU'], rows);
  assert.equal(md.split('\n')[2], '| disk read | 2 MiB/s | 200 MiB/s | 0.0100 |');
});

test('figures keep three significant digits without exponent notation', () => {
  assert.equal(threeDigits(1368.5), '1370');
  assert.equal(threeDigits(12345), '12300');
  assert.equal(threeDigits(146.2), '146');
  assert.equal(threeDigits(9.344), '9.34');
  assert.equal(threeDigits(0.034), '0.0340');
  assert.equal(ratioCell([1368.5, 9.34]), '147');
});
