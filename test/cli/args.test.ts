/** Core flags: help/version, spelling rules, memory, CPUs, name, boot, unknown/missing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs } from '../../src/cli/args/parse-args.js';
import { DEFAULT_MEMORY_MIB } from '../../src/cli/args/vm-config.js';
import { run, usageError } from './helpers.js';

test('help and version in every spelling', () => {
  for (const flag of ['-h', '--h', '-help', '--help']) assert.deepEqual(parseArgs([flag]), { kind: 'help' });
  for (const flag of ['-version', '--version']) assert.deepEqual(parseArgs([flag]), { kind: 'version' });
  // They stop parsing where they stand, like QEMU: later garbage is never read...
  assert.deepEqual(parseArgs(['-m', '256', '-h', '-bogus']), { kind: 'help' });
  // ...but earlier garbage is still reported.
  usageError('-bogus -h', /unknown option '-bogus'/);
});

test('no arguments: QEMU defaults', () => {
  const { config } = run([]);
  assert.equal(config.memoryMiB, DEFAULT_MEMORY_MIB);
  assert.equal(config.memoryMiB, 128);
  assert.equal(config.cpus, 1);
  assert.deepEqual(config.topology, { sockets: 1, cores: 1, threads: 1 });
  assert.equal(config.kernel, undefined);
  assert.deepEqual(config.monitors, []);
  assert.equal(config.noReboot, false);
  assert.equal(config.noShutdown, false);
  assert.equal(config.daemonize, false);
  assert.equal(config.incoming, undefined);
});

test('-flag and --flag are the same option', () => {
  assert.equal(run('--m 512 --smp 2').config.memoryMiB, 512);
  assert.equal(run('--m 512 --smp 2').config.cpus, 2);
  assert.equal(run('--nographic').config.nographic, true);
});

test('-m: bare MiB, suffixes, size=', () => {
  assert.equal(run('-m 256').config.memoryMiB, 256);
  assert.equal(run('-m 1G').config.memoryMiB, 1024);
  assert.equal(run('-m 1g').config.memoryMiB, 1024);
  assert.equal(run('-m size=512M').config.memoryMiB, 512);
  assert.equal(run('-m 1.5G').config.memoryMiB, 1536);
  assert.equal(run('-m 65536K').config.memoryMiB, 64);
  assert.equal(run('-m 3G').config.memoryMiB, 3072);
  assert.equal(run('-m 32').config.memoryMiB, 32);
  // Last one wins, as in QEMU.
  assert.equal(run('-m 256 -m 512').config.memoryMiB, 512);
});

test('-m errors name the flag and the fix', () => {
  usageError('-m 12x', /^cuju: -m: '12x' is not a size \(use e\.g\. -m 256 or -m 1G\)$/);
  usageError('-m 1.1G', /-m: '1.1G' is not a whole number of MiB/);
  usageError('-m 16', /-m: 16 MiB is too little .*at least -m 32/);
  usageError('-m 4G', /-m: 4096 MiB is above cuju's limit of 3072 MiB/);
  usageError('-m 3073', /limit of 3072 MiB/);
  usageError('-m 1G,slots=2,maxmem=4G', /-m: memory hot-plug/);
  usageError('-m size=1G,foo=1', /-m: unknown option 'foo'/);
  usageError(['-m', ''], /^cuju: -m: empty value/);
});

test('-smp forms', () => {
  assert.equal(run('-smp 2').config.cpus, 2);
  assert.equal(run('-smp cpus=2').config.cpus, 2);
  const topo = run('-smp 2,sockets=1,cores=2,threads=1').config;
  assert.equal(topo.cpus, 2);
  assert.deepEqual(topo.topology, { sockets: 1, cores: 2, threads: 1 });
  // cpus derived from the topology, sockets derived from cpus.
  assert.equal(run('-smp sockets=2,cores=2').config.cpus, 4);
  assert.deepEqual(run('-smp 4,cores=2').config.topology, { sockets: 2, cores: 2, threads: 1 });
  assert.equal(run('-smp 4').config.cpus, 4);
});

test('-smp errors', () => {
  usageError('-smp 5', /-smp: 5 CPUs is out of range \(use 1 to 4/);
  usageError('-smp 0', /-smp: cpus='0' is not a positive whole number/);
  usageError('-smp two', /-smp: cpus='two'/);
  usageError('-smp 2,sockets=2,cores=2', /sockets\*cores\*threads = 2\*2\*1 = 4 does not match 2 CPUs/);
  usageError('-smp 2,maxcpus=4', /CPU hot-plug is not supported/);
  usageError('-smp 2,dies=1', /-smp: unknown option 'dies'/);
});

test('-name forms', () => {
  assert.equal(run('-name vm1').config.name, 'vm1');
  const { config, notes } = run('-name guest=vm1,process=cuju-vm1,debug-threads=on');
  assert.equal(config.name, 'vm1');
  assert.ok(notes.some((n) => n.startsWith('-name:')));
  usageError('-name process=x', /-name: 'process=x' gives no name/);
});

test('-kernel, -initrd, -append', () => {
  const { config } = run(['-kernel', '/boot/bzImage', '-initrd', '/boot/initrd', '-append', 'console=ttyS0 root=/dev/vda -- x']);
  assert.equal(config.kernel, '/boot/bzImage');
  assert.equal(config.initrd, '/boot/initrd');
  assert.equal(config.append, 'console=ttyS0 root=/dev/vda -- x');
  // A value starting with '-' is still the value (QEMU takes the next word).
  assert.equal(run(['-kernel', 'k', '-append', '-v']).config.append, '-v');
  assert.equal(run(['-kernel', 'k', '-append', '']).config.append, '');
  usageError('-initrd /boot/initrd', /-initrd needs -kernel/);
  usageError(['-append', 'quiet'], /-append needs -kernel/);
  usageError(['-kernel', ''], /-kernel: empty value/);
});

test('-no-reboot and -no-shutdown', () => {
  assert.equal(run('-no-reboot').config.noReboot, true);
  const { config, notes } = run('-no-shutdown');
  assert.equal(config.noShutdown, true);
  assert.ok(notes.some((n) => /^-no-shutdown: .*stay up after the guest powers off/.test(n)));
});

test('unknown options and stray words', () => {
  usageError('-xyz', /^cuju: unknown option '-xyz' \(see cuju --help\)$/);
  usageError('--xyz', /^cuju: unknown option '--xyz' \(see cuju --help\)$/);
  usageError('-m 256 -hda disk.img', /unknown option '-hda'/);
  usageError('disk.img', /unexpected argument 'disk.img'/);
  usageError(['-'], /unexpected argument '-'/);
  usageError(['--'], /unknown option '--'/);
});

test('a flag at the end without its value is named', () => {
  usageError('-m', /^cuju: -m needs a value \(e\.g\. -m 256\)$/);
  usageError('-kernel', /^cuju: -kernel needs a value/);
  usageError('--chardev', /^cuju: --chardev needs a value \(e\.g\. -chardev socket,/);
  usageError('-cpu', /^cuju: -cpu needs a value \(-cpu MODEL\)$/);
  usageError('-incoming', /^cuju: -incoming needs a value/);
  usageError('-m 256 -serial', /-serial needs a value/);
});
