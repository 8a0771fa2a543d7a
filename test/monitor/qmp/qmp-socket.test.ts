import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SocketServer } from '../../../src/chardev/socket-server.js';
import { QmpMonitor } from '../../../src/monitor/qmp/monitor.js';
import { createQmpCommandTable, DEFAULT_QMP_EVENTS } from '../../../src/monitor/qmp/commands.js';
import { QmpEventList, type QmpCommandTable } from '../../../src/monitor/qmp/registry.js';
import { MonitorCommandError } from '../../../src/monitor/errors.js';
import { FakeVm } from '../fake-vm.js';
import { QmpClient, SocketClient, tempDir } from '../../../src/monitor/client/socket-client.js';

let tmp: ReturnType<typeof tempDir>;
let path: string;
let vm: FakeVm;
let table: QmpCommandTable;
let events: QmpEventList;
let monitor: QmpMonitor;
const clients: QmpClient[] = [];

async function start(options: { maxPendingBytes?: number; pretty?: boolean } = {}): Promise<void> {
  monitor = new QmpMonitor(await SocketServer.listen({ kind: 'socket', path, server: true, wait: false }), vm, {
    commands: table,
    events,
    ...options,
  });
}

beforeEach(async () => {
  tmp = tempDir();
  path = join(tmp.dir, 'vm1.qmp');
  vm = new FakeVm();
  table = createQmpCommandTable();
  events = new QmpEventList(DEFAULT_QMP_EVENTS);
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await monitor.close();
  tmp.remove();
});

async function negotiated(): Promise<QmpClient> {
  const client = await QmpClient.negotiated(path);
  clients.push(client);
  return client;
}

test('greeting is QEMU 7.2 with the cuju package and oob, in QEMU byte format', async () => {
  await start();
  const client = await SocketClient.connect(path);
  const text = await client.waitFor('\r\n');
  assert.equal(
    text,
    '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": "cuju-0.1.0"}, "capabilities": ["oob"]}}\r\n',
  );
  client.close();
});

test('only qmp_capabilities is accepted before negotiation; it is refused once done', async () => {
  await start();
  const client = await QmpClient.connect(path);
  clients.push(client);
  await client.next();
  assert.deepEqual(await client.execute('query-status', undefined, 1), {
    error: { class: 'CommandNotFound', desc: "Expecting capabilities negotiation with 'qmp_capabilities'" },
    id: 1,
  });
  assert.deepEqual(await client.execute('qmp_capabilities'), { return: {} });
  assert.deepEqual(await client.execute('qmp_capabilities'), {
    error: { class: 'CommandNotFound', desc: 'Capabilities negotiation is already complete, command ignored' },
  });
  assert.equal((await client.execute('query-status')).return.status, 'running');
});

test('query-status, query-kvm, query-version, query-name, query-cpus-fast', async () => {
  await start();
  const client = await negotiated();
  assert.deepEqual(await client.execute('query-status'), { return: { status: 'running', singlestep: false, running: true } });
  vm.state = 'paused';
  assert.deepEqual((await client.execute('query-status')).return, { status: 'paused', singlestep: false, running: false });
  assert.deepEqual(await client.execute('query-kvm'), { return: { enabled: true, present: true } });
  assert.deepEqual(await client.execute('query-version'), {
    return: { qemu: { micro: 0, minor: 2, major: 7 }, package: 'cuju-0.1.0' },
  });
  assert.deepEqual(await client.execute('query-name'), { return: { name: 'vm1' } });
  assert.deepEqual((await client.execute('query-cpus-fast')).return, [
    {
      'cpu-index': 0,
      'qom-path': '/machine/unattached/device[0]',
      'thread-id': 1234,
      props: { 'core-id': 0, 'thread-id': 0, 'socket-id': 0 },
      target: 'x86_64',
    },
    {
      'cpu-index': 1,
      'qom-path': '/machine/unattached/device[1]',
      'thread-id': 1235,
      props: { 'core-id': 0, 'thread-id': 0, 'socket-id': 1 },
      target: 'x86_64',
    },
  ]);
  const names = (await client.execute('query-commands')).return.map((c: { name: string }) => c.name);
  for (const name of ['qmp_capabilities', 'query-status', 'stop', 'cont', 'quit', 'human-monitor-command']) {
    assert.ok(names.includes(name), name);
  }
});

test('stop, cont, system_reset, system_powerdown, with id echoed verbatim', async () => {
  await start();
  const client = await negotiated();
  assert.deepEqual(await client.execute('stop', undefined, 'a'), { return: {}, id: 'a' });
  assert.equal(vm.state, 'paused');
  assert.deepEqual(await client.execute('cont', undefined, { n: [1] }), { return: {}, id: { n: [1] } });
  assert.deepEqual(await client.execute('system_reset', undefined, null), { return: {}, id: null });
  assert.deepEqual(await client.execute('system_powerdown'), { return: {} });
  assert.deepEqual(vm.calls, ['stop', 'cont', 'systemReset', 'systemPowerdown']);
  assert.deepEqual(client.events.map((e) => e.event), ['STOP', 'RESUME', 'RESET'], 'events come before the answer, as in QEMU');
  vm.state = 'internal-error';
  assert.deepEqual(await client.execute('cont', undefined, 2), {
    error: { class: 'GenericError', desc: 'Resetting the Virtual Machine is required' },
    id: 2,
  });
});

test('envelope, lookup and argument errors answer like QEMU', async () => {
  await start();
  const client = await negotiated();
  assert.deepEqual(await client.execute('nope', undefined, 5), {
    error: { class: 'CommandNotFound', desc: 'The command nope has not been found' },
    id: 5,
  });
  const cases: Array<[unknown, string]> = [
    [[1], 'QMP input must be a JSON object'],
    [{ id: 1 }, "QMP input lacks member 'execute'"],
    [{ execute: 1 }, "QMP input member 'execute' must be a string"],
    [{ execute: 'stop', arguments: [] }, "QMP input member 'arguments' must be an object"],
    [{ execute: 'stop', bogus: 1 }, "QMP input member 'bogus' is unexpected"],
    [{ 'exec-oob': 'stop' }, "QMP input member 'exec-oob' is unexpected"],
    [{ execute: 'stop', arguments: { x: 1 } }, "Parameter 'x' is unexpected"],
    [{ execute: 'human-monitor-command' }, "Parameter 'command-line' is missing"],
    [{ execute: 'human-monitor-command', arguments: { 'command-line': 3 } }, "Invalid parameter type for 'command-line', expected: string"],
  ];
  for (const [request, desc] of cases) {
    client.send(request);
    const answer = await client.next();
    assert.deepEqual(answer.error, { class: 'GenericError', desc }, JSON.stringify(request));
  }
  assert.deepEqual(vm.calls, []);
});

test('JSON parse errors are answered and the stream continues', async () => {
  await start();
  const client = await negotiated();
  client.client.write('{"execute": }\n');
  const error = await client.next();
  assert.equal(error.error.class, 'GenericError');
  assert.match(error.error.desc, /^JSON parse error, /);
  client.client.write('{"execute":\n "query-name", "id": 7}{"execute": "query-kvm"}');
  assert.deepEqual(await client.next(), { return: { name: 'vm1' }, id: 7 });
  assert.deepEqual(await client.next(), { return: { enabled: true, present: true } });
});

test('events reach every client in command mode, not ones still negotiating', async () => {
  await start();
  const a = await negotiated();
  const b = await negotiated();
  const waiting = await QmpClient.connect(path);
  clients.push(waiting);
  await waiting.next();
  assert.deepEqual(await a.execute('stop'), { return: {} });
  for (const client of [b, a]) {
    const event = await client.event();
    assert.equal(event.event, 'STOP');
    assert.equal('data' in event, false, 'QEMU sends no data member for STOP');
    assert.ok(Number.isInteger(event.timestamp.seconds) && Math.abs(event.timestamp.seconds - Date.now() / 1000) < 5);
    assert.ok(event.timestamp.microseconds >= 0 && event.timestamp.microseconds < 1e6);
  }
  vm.emit('RESET', { guest: true, reason: 'guest-reset' });
  vm.emit('SHUTDOWN', { guest: true, reason: 'guest-shutdown' });
  for (const client of [a, b]) {
    assert.deepEqual((await client.event()).data, { guest: true, reason: 'guest-reset' });
    const shutdown = await client.event();
    assert.equal(shutdown.event, 'SHUTDOWN');
    assert.deepEqual(shutdown.data, { guest: true, reason: 'guest-shutdown' });
  }
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(waiting.client.received, '', 'no events before negotiation');
  vm.emit('NOT_FORWARDED', {});
  events.add('LATER'); // too late for this monitor: registration happens before startMonitors
  assert.deepEqual(await a.execute('query-name'), { return: { name: 'vm1' } }, 'only the answer, no stray event');
});

test('the event wire format is QEMU\'s', async () => {
  await start();
  const a = await negotiated();
  vm.emit('RESET', { guest: false, reason: 'host-qmp-system-reset' });
  await a.client.waitFor('\r\n');
  assert.match(
    a.client.received,
    /^\{"event": "RESET", "data": \{"guest": false, "reason": "host-qmp-system-reset"\}, "timestamp": \{"seconds": \d+, "microseconds": \d+\}\}\r\n$/,
  );
});

test('quit answers first, then asks the VM to quit; SHUTDOWN follows', async () => {
  await start();
  const client = await negotiated();
  assert.deepEqual(await client.execute('quit', undefined, 'q'), { return: {}, id: 'q' });
  const event = await client.event();
  assert.equal(event.event, 'SHUTDOWN');
  assert.deepEqual(event.data, { guest: false, reason: 'host-qmp-quit' });
  assert.deepEqual(vm.calls, ['quit']);
});

test('human-monitor-command runs HMP and returns its output', async () => {
  await start();
  const client = await negotiated();
  assert.deepEqual(await client.execute('human-monitor-command', { 'command-line': 'info status' }), {
    return: 'VM status: running\r\n',
  });
  assert.deepEqual(await client.execute('human-monitor-command', { 'command-line': 'info cpus', 'cpu-index': 1 }), {
    return: '  CPU #0: thread_id=1234\r\n* CPU #1: thread_id=1235\r\n',
  });
  assert.deepEqual((await client.execute('human-monitor-command', { 'command-line': 'bogus' })).return, "unknown command: 'bogus'\r\n");
});

test('an endless request is refused and that client disconnected; others are unaffected', async () => {
  await start({ maxPendingBytes: 64 * 1024 });
  const other = await negotiated();
  const greedy = await negotiated();
  const chunk = '{"execute": "' + 'x'.repeat(16 * 1024);
  greedy.client.write(chunk);
  for (let i = 0; i < 8 && !greedy.client.socket.destroyed; i++) greedy.client.write('x'.repeat(16 * 1024));
  const answer = await greedy.next();
  assert.equal(answer.error.class, 'GenericError');
  assert.match(answer.error.desc, /exceeds 65536 bytes/);
  await greedy.client.ended;
  assert.deepEqual(await other.execute('query-name'), { return: { name: 'vm1' } });
});

test('later commands get schema checking, QMP errors, and OOB when allowed', async () => {
  let release!: () => void;
  table.register({
    name: 'migrate',
    args: { uri: 'str', '*detach': 'bool' },
    handler: async (_ctx, args) => {
      if (args.uri === 'busy') await new Promise<void>((resolve) => (release = resolve));
      if (args.uri === 'bad') throw new MonitorCommandError("Migration is disabled when VM has no FT", 'GenericError');
      return { started: args.uri };
    },
  });
  table.register({ name: 'migrate-pause', allowOob: true, handler: () => ({ paused: true }) });
  await start();
  const client = await QmpClient.connect(path);
  clients.push(client);
  await client.next();
  assert.deepEqual(await client.execute('qmp_capabilities', { enable: ['oob'] }), { return: {} });
  assert.deepEqual(await client.execute('migrate', { uri: 'tcp:h:1' }), { return: { started: 'tcp:h:1' } });
  assert.deepEqual((await client.execute('migrate', { uri: 'bad' })).error.desc, 'Migration is disabled when VM has no FT');
  assert.deepEqual((await client.execute('migrate', { uri: 'u', detach: 1 })).error.desc, "Invalid parameter type for 'detach', expected: boolean");
  // A slow in-band command; an OOB one overtakes it, a second in-band one waits its turn.
  client.send({ execute: 'migrate', arguments: { uri: 'busy' }, id: 1 });
  client.send({ execute: 'query-name', id: 2 });
  client.send({ 'exec-oob': 'migrate-pause', id: 3 });
  assert.deepEqual(await client.next(), { return: { paused: true }, id: 3 });
  release();
  assert.deepEqual(await client.next(), { return: { started: 'busy' }, id: 1 });
  assert.deepEqual(await client.next(), { return: { name: 'vm1' }, id: 2 });
  client.send({ 'exec-oob': 'query-name', id: 4 });
  assert.deepEqual(await client.next(), {
    error: { class: 'GenericError', desc: 'The command query-name does not support OOB' },
    id: 4,
  });
});

test('pretty mode indents like -mon pretty=on', async () => {
  await start({ pretty: true });
  const client = await SocketClient.connect(path);
  await client.waitFor('\r\n');
  client.take();
  client.write('{"execute": "qmp_capabilities"}{"execute": "query-kvm"}');
  await client.waitFor('}\r\n{');
  await client.waitFor(/"present": true\n\s*\}\n\}\r\n$/);
  assert.equal(client.take(), '{\n    "return": {}\n}\r\n{\n    "return": {\n        "enabled": true,\n        "present": true\n    }\n}\r\n');
  client.close();
});

test('a client that half-closes after its requests still gets every answer', async () => {
  await start();
  const client = await SocketClient.connect(path);
  client.socket.end('{"execute": "qmp_capabilities"}\n{"execute": "query-name", "id": 1}\n');
  await client.ended;
  const lines = client.received.split('\r\n');
  assert.deepEqual(JSON.parse(lines[2]), { return: { name: 'vm1' }, id: 1 });
});
