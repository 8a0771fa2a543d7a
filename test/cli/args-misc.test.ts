/** Raw device lists, compatibility flags with notes, and the fault-tolerance extensions. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, usageError } from './helpers.js';

test('-netdev and -device keep implied keys and escaped commas', () => {
  const { config } = run(['-netdev', 'tap,id=n0,ifname=tap0,script=no', '-device', 'virtio-net,netdev=n0', '-drive', 'file=/a,,b.img,if=none']);
  assert.deepEqual(config.netdevs[0].entries, [
    { key: 'type', value: 'tap' },
    { key: 'id', value: 'n0' },
    { key: 'ifname', value: 'tap0' },
    { key: 'script', value: 'no' },
  ]);
  assert.deepEqual(config.devices[0].entries[0], { key: 'driver', value: 'virtio-net' });
  assert.equal(config.drives[0].entries[0].value, '/a,b.img');
  assert.equal(config.drives[0].text, 'file=/a,,b.img,if=none');
});

test('compatibility flags are accepted, each with a one-line note', () => {
  const cases: Array<[string, RegExp]> = [
    ['-enable-kvm', /^-enable-kvm: cuju always runs on KVM$/],
    ['-accel kvm', /^-accel kvm: cuju always runs on KVM$/],
    ['-accel kvm,thread=single', /^-accel kvm,thread=single:/],
    ['-machine pc', /^-machine pc: cuju has one machine type/],
    ['-M pc-i440fx-2.5,accel=kvm', /^-machine pc-i440fx-2.5,accel=kvm: cuju has one machine type/],
    ['-cpu host', /^-cpu host: .*model name is not used/],
    ['-cpu qemu64', /^-cpu qemu64:/],
    ['-vga std', /^-vga std: cuju has no display adapter/],
    ['-vga none', /^-vga none:/],
    ['-display none', /^-display none:/],
    ['-boot c', /^-boot c: cuju boots the -kernel directly/],
    ['-rtc base=utc', /^-rtc base=utc:/],
    ['-no-hpet', /^-no-hpet:/],
    ['-k en-us', /^-k en-us:/],
    ['-usb', /^-usb: cuju has no USB controller$/],
    ['-usbdevice tablet', /^-usbdevice tablet:/],
    ['-global kvm-pit.lost_tick_policy=delay', /^-global kvm-pit.lost_tick_policy=delay:/],
    ['-L /usr/share/qemu', /^-L \/usr\/share\/qemu: .*direct kernel boot only/],
    ['-bios bios.bin', /^-bios bios.bin: .*direct kernel boot only/],
  ];
  for (const [line, note] of cases) {
    const { notes } = run(line);
    assert.ok(notes.some((n) => note.test(n)), `${line}: notes were ${JSON.stringify(notes)}`);
    for (const n of notes) assert.ok(!n.includes('\n'), 'notes are one line');
  }
});

test('a non-KVM accelerator is refused, not ignored', () => {
  usageError('-accel tcg', /^cuju: -accel: cuju runs on KVM only \(use -accel kvm or drop it\)$/);
  usageError('-machine pc,accel=tcg', /-machine: cuju runs on KVM only \(use accel=kvm/);
  assert.ok(run('-machine accel=kvm:tcg').notes.length > 0);
});

test('repeated inert flags note once', () => {
  const { notes } = run('-enable-kvm -enable-kvm -vga std -vga none');
  assert.equal(notes.filter((n) => n.startsWith('-enable-kvm:')).length, 1);
  assert.equal(run('-net nic -net tap -net user').config.nets.length, 3);
});

// The fault-tolerance flags are parsed and checked: test/cli/args-ft.test.ts (-ft-heartbeat, -ft-key).
test('no fault-tolerance flags, no fault-tolerance options', () => {
  assert.deepEqual(run([]).config.ft, {});
});
