/**
 * MigrationController (src/migration/controller.ts) without KVM: parameter and
 * capability validation, one migration at a time, cancel leaves the VM as it was, the
 * MIGRATION events in order, and the connect-refused message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { once } from 'node:events';
import { CAPABILITIES, MigrationController, migrationOf } from '../../src/migration/controller.js';
import { parseHmpBandwidth } from '../../src/migration/monitor-commands.js';
import { MonitorCommandError } from '../../src/monitor/errors.js';
import { FakeVm } from '../monitor/fake-vm.js';
import { FakeMigratableMachine } from './fake-machine.js';

const commandError = (re: RegExp) => (e: unknown) => e instanceof MonitorCommandError && re.test(e.message);

/** A destination that takes every byte and never answers. */
async function sinkServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((s) => { s.resume(); s.on('error', () => {}); });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port };
}

async function freePort(): Promise<number> {
  const { server, port } = await sinkServer();
  server.close();
  await once(server, 'close');
  return port;
}

test('migrationOf finds the controller of a VM, and refuses a VM without one', () => {
  const m = new FakeMigratableMachine();
  const c = new MigrationController(m);
  assert.equal(migrationOf(m), c);
  assert.throws(() => migrationOf(new FakeVm()), commandError(/^this VM cannot be migrated$/));
});

test('parameters: QEMU defaults, range checks, a refused call changes nothing', () => {
  const c = new MigrationController(new FakeMigratableMachine());
  assert.deepEqual(c.parameters, { downtimeLimitMs: 300, maxBandwidth: 128 * 1024 * 1024 });
  c.setParameters({ downtimeLimitMs: 0 });
  c.setParameters({ downtimeLimitMs: 2_000_000, maxBandwidth: 1 });
  assert.deepEqual(c.parameters, { downtimeLimitMs: 2_000_000, maxBandwidth: 1 });
  c.setParameters({ maxBandwidth: parseHmpBandwidth('1G') });
  c.setParameters({});
  c.setParameters({ downtimeLimitMs: undefined });
  assert.deepEqual(c.parameters, { downtimeLimitMs: 2_000_000, maxBandwidth: 2 ** 30 });
  for (const bad of [-1, 1.5, 2_000_001, NaN, Infinity]) {
    assert.throws(() => c.setParameters({ downtimeLimitMs: bad }), commandError(/'downtime_limit' expects an integer in the range of 0 to 2000000 milliseconds/), String(bad));
  }
  for (const bad of [0, -1, 0.5, NaN, Infinity, 2 ** 53]) {
    assert.throws(() => c.setParameters({ maxBandwidth: bad }), commandError(/'max_bandwidth' expects a positive number of bytes per second/), String(bad));
  }
  // Both given, one bad: neither is applied.
  assert.throws(() => c.setParameters({ downtimeLimitMs: 5, maxBandwidth: 0 }), MonitorCommandError);
  assert.deepEqual(c.parameters, { downtimeLimitMs: 2_000_000, maxBandwidth: 2 ** 30 });
});

test('capabilities: x-verify and cuju-ft, off by default, unknown names refused', () => {
  const c = new MigrationController(new FakeMigratableMachine());
  assert.deepEqual([...CAPABILITIES], ['x-verify', 'cuju-ft']);
  assert.deepEqual(c.capabilities, { 'x-verify': false, 'cuju-ft': false });
  c.setCapability('x-verify', true);
  assert.deepEqual(c.capabilities, { 'x-verify': true, 'cuju-ft': false });
  c.setCapability('x-verify', false);
  c.setCapability('cuju-ft', true);
  assert.deepEqual(c.capabilities, { 'x-verify': false, 'cuju-ft': true });
  assert.throws(() => c.start('file:/tmp/x.snap'), commandError(/fault tolerance needs a backup: use migrate -c tcp:BACKUP:PORT/));
  c.setCapability('cuju-ft', false);
  assert.throws(() => c.start('tcp:127.0.0.1:1', { cuju: true }), commandError(/migrate -c starts fault tolerance: run migrate_set_capability cuju-ft on first/));
  assert.throws(() => c.setCapability('xbzrle', true), commandError(/^Parameter 'capability' does not accept value 'xbzrle'$/));
  assert.throws(() => c.setCapability('__proto__', true), commandError(/does not accept value/));
  assert.deepEqual(c.capabilities, { 'x-verify': false, 'cuju-ft': false });
});

test('start refuses bad URIs and VMs that are not running or paused, without starting anything', () => {
  const m = new FakeMigratableMachine();
  const c = new MigrationController(m);
  assert.throws(() => c.start('exec:cat'), commandError(/not a supported migration URI/));
  m.state = 'shutdown';
  assert.throws(() => c.start('tcp:127.0.0.1:1'), commandError(/^the VM cannot be migrated while it is shutdown$/));
  m.state = 'postmigrate';
  assert.throws(() => c.start('tcp:127.0.0.1:1'), commandError(/while it is postmigrate/));
  assert.equal(c.stats().status, 'none');
  assert.equal(m.trackers, 0);
});

test('one migration at a time; cancel resumes the VM, events in order; then a new one may start', async () => {
  const { server, port } = await sinkServer();
  const m = new FakeMigratableMachine();
  const log: string[] = [];
  const c = new MigrationController(m, (l) => log.push(l));
  const events: string[] = [];
  m.on('MIGRATION', (e: { status: string }) => events.push(e.status));
  try {
    const done = c.start(`tcp:127.0.0.1:${port}`);
    await m.frozen;
    assert.equal(c.active, true);
    assert.equal(m.runState(), 'paused', 'freeze stopped the VM');
    assert.throws(() => c.start(`tcp:127.0.0.1:${port}`), commandError(/^There's a migration process in progress$/));
    assert.throws(() => c.setCapability('x-verify', true), commandError(/in progress/));
    c.setParameters({ maxBandwidth: 1024 * 1024 }); // allowed while it runs (QEMU too)

    c.cancel();
    assert.equal(c.stats().status, 'cancelling');
    m.release();
    const stats = await done;
    assert.equal(stats.status, 'cancelled');
    assert.equal(stats.error, undefined, 'a cancel is not an error');
    assert.equal(m.runState(), 'running', 'the VM runs again');
    assert.equal(m.migrated, false);
    assert.equal(c.active, false);
    assert.deepEqual(events, ['setup', 'active', 'cancelling', 'cancelled']);
    assert.ok(log.some((l) => /cancelled; the VM runs here as before/.test(l)), log.join('\n'));
    c.cancel(); // cancelling a finished migration does nothing
    assert.equal(c.stats().status, 'cancelled');

    // A finished migration lets the next one start: here one that can't connect.
    const port2 = await freePort();
    const failed = await c.start(`tcp:127.0.0.1:${port2}`);
    assert.equal(failed.status, 'failed');
    assert.equal(failed.error, `nothing listens on 127.0.0.1:${port2}: start the destination with -incoming tcp:0:${port2} first`);
    assert.equal(m.runState(), 'running');
  } finally {
    server.close();
  }
});

test('cancel of a paused VM leaves it paused', async () => {
  const { server, port } = await sinkServer();
  const m = new FakeMigratableMachine();
  m.state = 'paused';
  const c = new MigrationController(m);
  try {
    const done = c.start(`tcp:127.0.0.1:${port}`);
    await m.frozen;
    c.cancel();
    m.release();
    assert.equal((await done).status, 'cancelled');
    assert.equal(m.runState(), 'paused');
    assert.equal(m.calls.includes('cont'), false, 'never resumed');
  } finally {
    server.close();
  }
});

test('a reset during a migration cancels it', async () => {
  const { server, port } = await sinkServer();
  const m = new FakeMigratableMachine();
  const c = new MigrationController(m);
  try {
    const done = c.start(`tcp:127.0.0.1:${port}`);
    await m.frozen;
    m.emit('RESET', { guest: true, reason: 'guest-reset' });
    m.release();
    assert.equal((await done).status, 'cancelled');
    assert.equal(m.listenerCount('RESET'), 0, 'the reset listener is gone once the migration ended');
  } finally {
    server.close();
  }
});
