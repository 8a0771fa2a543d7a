/** -drive / -device / -netdev / -net pairing into device specs, QEMU's rules. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from '../../src/cli/args/index.js';
import { resolveDevices } from '../../src/cli/args/devices.js';
import { UsageError } from '../../src/cli/args/usage-error.js';

function devicesOf(line: string) {
  const cmd = parseArgs(['-kernel', 'k', ...line.split(' ')]);
  assert.equal(cmd.kind, 'run');
  if (cmd.kind !== 'run') throw new Error('unreachable');
  return resolveDevices(cmd.config);
}

test("the original Cuju runvm.sh devices: if=none drive + virtio-blk, legacy -net tap + nic", () => {
  const r = devicesOf('-drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img -device virtio-blk,drive=drive0 -net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25');
  assert.deepEqual(r.devices, [
    { kind: 'virtio-blk', id: 'drive0', file: '/mnt/nfs/Ubuntu20G-1604.img', format: 'raw', readonly: false, cache: 'none', shareRw: false, serial: undefined },
    { kind: 'virtio-net', id: 'net0', ifname: 'tap0', mac: 'ae:ae:00:00:00:25' },
  ]);
  assert.ok(r.notes.some((n) => /does not run network scripts/.test(n)), 'the default ifup script is not run, and the user is told');
});

test('-drive if=virtio alone, readonly, and -netdev + -device virtio-net, virtio-rng', () => {
  const r = devicesOf('-drive file=a.img,format=raw,if=virtio,readonly=on -netdev tap,id=n0,ifname=tap7,script=no,downscript=no -device virtio-net,netdev=n0,mac=52:54:00:00:00:01 -device virtio-rng');
  assert.deepEqual(r.devices.map((d) => d.kind), ['virtio-blk', 'virtio-net', 'virtio-rng']);
  assert.equal(r.devices[0].kind === 'virtio-blk' && r.devices[0].readonly, true);
  assert.deepEqual(r.devices[1], { kind: 'virtio-net', id: 'n0', ifname: 'tap7', mac: '52:54:00:00:00:01' });
  assert.deepEqual(r.notes, []);
});

test('share-rw=on on the device, serial passes through', () => {
  const r = devicesOf('-drive if=none,id=d,file=x.img,format=raw -device virtio-blk-device,drive=d,share-rw=on,serial=abc');
  assert.deepEqual(r.devices[0], { kind: 'virtio-blk', id: 'd', file: 'x.img', format: 'raw', readonly: false, cache: undefined, shareRw: true, serial: 'abc' });
});

test('mistakes are one-line UsageErrors naming the option', () => {
  const bad: [string, RegExp][] = [
    ['-device virtio-blk,drive=nope', /drive=nope names no -drive/],
    ['-drive file=a.img', /if=ide is not supported/],
    ['-drive if=none,file=a.img', /if=none needs an id=/],
    ['-drive if=virtio', /no file= given/],
    ['-device e1000', /unknown device model 'e1000'/],
    ['-netdev user,id=n0', /type 'user' is not supported/],
    ['-net nic,model=e1000', /model=e1000 is not supported/],
    ['-net nic,model=virtio', /no -net tap on vlan 0/],
    ['-drive if=none,id=d,file=a -device virtio-blk,drive=d -device virtio-blk,drive=d', /already used/],
    ['-drive file=a.img,if=virtio,bogus=1', /unknown property 'bogus'/],
  ];
  for (const [line, re] of bad) {
    assert.throws(() => devicesOf(line), (e: unknown) => e instanceof UsageError && re.test(e.message) && !e.message.includes('\n'), line);
  }
});
