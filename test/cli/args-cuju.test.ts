/** The original Cuju scripts' command lines, verbatim, and -incoming. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, usageError, words } from './helpers.js';

const CUJU_PRIMARY =
  '-drive if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img -device virtio-blk,drive=drive0 ' +
  '-m 1G -enable-kvm -net tap,ifname=tap0 -net nic,model=virtio,vlan=0,macaddr=ae:ae:00:00:00:25 -cpu host -vga std ' +
  '-chardev socket,id=mon,path=/home/cuju/vm1.monitor,server,nowait -mon chardev=mon,id=monitor,mode=readline';
const CUJU_BACKUP = `${CUJU_PRIMARY} -incoming tcp:0:4441,ft_mode`;

test("Cuju's primary command line parses", () => {
  const { config, notes } = run(words(CUJU_PRIMARY));
  assert.equal(config.memoryMiB, 1024);
  assert.equal(config.cpus, 1);
  assert.deepEqual(config.drives, [
    {
      flag: 'drive',
      text: 'if=none,id=drive0,cache=none,format=raw,file=/mnt/nfs/Ubuntu20G-1604.img',
      entries: [
        { key: 'if', value: 'none' },
        { key: 'id', value: 'drive0' },
        { key: 'cache', value: 'none' },
        { key: 'format', value: 'raw' },
        { key: 'file', value: '/mnt/nfs/Ubuntu20G-1604.img' },
      ],
    },
  ]);
  assert.deepEqual(config.devices, [
    { flag: 'device', text: 'virtio-blk,drive=drive0', entries: [{ key: 'driver', value: 'virtio-blk' }, { key: 'drive', value: 'drive0' }] },
  ]);
  assert.deepEqual(
    config.nets.map((n) => n.entries),
    [
      [{ key: 'type', value: 'tap' }, { key: 'ifname', value: 'tap0' }],
      [
        { key: 'type', value: 'nic' },
        { key: 'model', value: 'virtio' },
        { key: 'vlan', value: '0' },
        { key: 'macaddr', value: 'ae:ae:00:00:00:25' },
      ],
    ],
  );
  assert.deepEqual(config.chardevs.get('mon'), { kind: 'socket', path: '/home/cuju/vm1.monitor', server: true, wait: false });
  assert.deepEqual(config.monitors, [
    { mode: 'readline', chardev: { kind: 'socket', path: '/home/cuju/vm1.monitor', server: true, wait: false }, pretty: false, chardevId: 'mon' },
  ]);
  assert.equal(config.incoming, undefined);
  // Every accepted-but-inert flag says so, once; device flags are real devices now (no note).
  for (const prefix of ['-enable-kvm:', '-cpu host:', '-vga std:']) {
    assert.equal(notes.filter((n) => n.startsWith(prefix)).length, 1, `one note for ${prefix}`);
  }
  for (const prefix of ['-drive:', '-device:', '-net:']) {
    assert.equal(notes.filter((n) => n.startsWith(prefix)).length, 0, `no note for ${prefix}`);
  }
});

test("Cuju's backup command line parses, with ft_mode", () => {
  const { config } = run(words(CUJU_BACKUP));
  assert.deepEqual(config.incoming, { raw: 'tcp:0:4441,ft_mode', spec: { kind: 'tcp', host: '0.0.0.0', port: 4441, ftMode: true } });
  assert.equal(config.memoryMiB, 1024);
  assert.equal(config.monitors.length, 1);
});

test('-incoming forms', () => {
  assert.deepEqual(run('-incoming tcp::4444').config.incoming?.spec, { kind: 'tcp', host: '0.0.0.0', port: 4444, ftMode: false });
  assert.deepEqual(run('-incoming tcp:10.0.0.2:4444').config.incoming?.spec, { kind: 'tcp', host: '10.0.0.2', port: 4444, ftMode: false });
  assert.deepEqual(run('-incoming tcp:[fe80::1]:4444,ft_mode').config.incoming?.spec, { kind: 'tcp', host: 'fe80::1', port: 4444, ftMode: true });
  assert.deepEqual(run('-incoming file:/tmp/vm.state').config.incoming, { raw: 'file:/tmp/vm.state', spec: { kind: 'file', path: '/tmp/vm.state' } });
  assert.deepEqual(run('-incoming defer').config.incoming, { raw: 'defer', spec: { kind: 'defer' } });
});

test('-incoming errors', () => {
  usageError('-incoming tcp:0', /^cuju: -incoming: '0' has no port/);
  usageError('-incoming tcp:0:0', /-incoming: '0' is not a TCP port 1-65535/);
  usageError('-incoming tcp:0:65536', /'65536' is not a TCP port/);
  usageError('-incoming tcp:0:4441,ft', /-incoming: unknown option 'ft' in 'tcp:0:4441,ft' \(only ft_mode is known\)/);
  usageError('-incoming exec:cat', /-incoming: 'exec:cat' is not a supported URI/);
  usageError('-incoming file:', /'file:' needs a path/);
});
