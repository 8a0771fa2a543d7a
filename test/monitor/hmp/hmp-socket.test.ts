import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SocketServer } from '../../../src/chardev/socket-server.js';
import { HmpMonitor } from '../../../src/monitor/hmp/monitor.js';
import { createHmpCommandTable } from '../../../src/monitor/hmp/commands.js';
import { HMP_GREETING, HMP_PROMPT } from '../../../src/monitor/hmp/session.js';
import type { HmpCommandTable } from '../../../src/monitor/hmp/registry.js';
import { FakeVm } from '../fake-vm.js';
import { SocketClient, tempDir } from '../../../src/monitor/client/socket-client.js';

let tmp: ReturnType<typeof tempDir>;
let path: string;
let vm: FakeVm;
let table: HmpCommandTable;
let monitor: HmpMonitor;
const clients: SocketClient[] = [];

beforeEach(async () => {
  tmp = tempDir();
  path = join(tmp.dir, 'vm1.monitor');
  vm = new FakeVm();
  table = createHmpCommandTable();
  monitor = new HmpMonitor(await SocketServer.listen({ kind: 'socket', path, server: true, wait: false }), vm, table);
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await monitor.close();
  tmp.remove();
});

async function connect(): Promise<SocketClient> {
  const client = await SocketClient.connect(path);
  clients.push(client);
  await client.waitFor(HMP_PROMPT);
  client.take();
  return client;
}

/** Send one line; return what came back between the echo and the next prompt. */
async function run(client: SocketClient, line: string): Promise<string> {
  client.write(`${line}\n`);
  const text = await client.waitFor(new RegExp(`\\r\\n[^]*\\(qemu\\) $`));
  client.take();
  assert.ok(text.startsWith(`${line}\r\n`), `echo of the typed line in ${JSON.stringify(text)}`);
  return text.slice(line.length + 2, -HMP_PROMPT.length);
}

test('greeting names QEMU and cuju, then the prompt', async () => {
  const client = await SocketClient.connect(path);
  clients.push(client);
  const text = await client.waitFor(HMP_PROMPT);
  assert.equal(text, `${HMP_GREETING}\r\n(qemu) `);
  assert.match(HMP_GREETING, /^QEMU 7\.2\.0 monitor \(cuju 0\.1\.0\) - type 'help' for more information$/);
});

test('info status follows the run state with QEMU strings', async () => {
  const client = await connect();
  assert.equal(await run(client, 'info status'), 'VM status: running\r\n');
  vm.state = 'paused';
  assert.equal(await run(client, 'info status'), 'VM status: paused\r\n');
  vm.state = 'shutdown';
  assert.equal(await run(client, 'info status'), 'VM status: paused (shutdown)\r\n');
  vm.state = 'inmigrate';
  assert.equal(await run(client, 'info status'), 'VM status: paused (inmigrate)\r\n');
});

test('stop, cont, c, system_reset, system_powerdown reach the VM silently', async () => {
  const client = await connect();
  assert.equal(await run(client, 'stop'), '');
  assert.equal(vm.state, 'paused');
  assert.equal(await run(client, 'c'), '');
  assert.equal(vm.state, 'running');
  await run(client, 'stop');
  await run(client, 'cont');
  assert.equal(await run(client, 'system_reset'), '');
  assert.equal(await run(client, 'system_powerdown'), '');
  assert.deepEqual(vm.calls, ['stop', 'cont', 'stop', 'cont', 'systemReset', 'systemPowerdown']);
});

test('cont refuses when only a reset helps, as QEMU does', async () => {
  const client = await connect();
  vm.state = 'shutdown';
  assert.equal(await run(client, 'cont'), 'Error: Resetting the Virtual Machine is required\r\n');
  assert.deepEqual(vm.calls, []);
});

test('info cpus marks the current CPU; cpu N moves the mark; info registers follows it', async () => {
  const client = await connect();
  assert.equal(await run(client, 'info cpus'), '* CPU #0: thread_id=1234\r\n  CPU #1: thread_id=1235\r\n');
  assert.equal(await run(client, 'cpu 1'), '');
  assert.equal(await run(client, 'info cpus'), '  CPU #0: thread_id=1234\r\n* CPU #1: thread_id=1235\r\n');
  assert.match(await run(client, 'info registers'), /^RAX=0000000000000001 .*\r\nRIP=.*\r\n$/);
  assert.equal(await run(client, 'cpu 7'), 'Error: invalid CPU index\r\n');
  const all = await run(client, 'info registers -a');
  assert.match(all, /^\r\nCPU#0\r\nRAX=0+0 [^]*\r\nCPU#1\r\nRAX=0+1 /);
  assert.equal(await run(client, 'info registers 9'), 'Error: CPU#9 not available\r\n');
});

test('info kvm, info name, info version', async () => {
  const client = await connect();
  assert.equal(
    await run(client, 'info kvm'),
    'kvm support: enabled\r\nkvm backend: kvm_pvm (guest kernel code is emulated (~2M instructions/s))\r\n',
  );
  assert.equal(await run(client, 'info name'), 'vm1\r\n');
  assert.equal(await run(client, 'info version'), '7.2.0 (cuju-0.1.0)\r\n');
});

test('help lists every command with its one-line help; help CMD shows one', async () => {
  const client = await connect();
  const help = await run(client, 'help');
  for (const line of ['cont|c  -- resume emulation', 'help|? [cmd] -- show the help', 'quit|q  -- quit the emulator', 'stop  -- stop emulation']) {
    assert.ok(help.includes(`${line}\r\n`), `${line} in ${help}`);
  }
  assert.equal(await run(client, '? stop'), 'stop  -- stop emulation\r\n');
  assert.ok((await run(client, 'help info')).includes('info status  -- show the current VM status (running|paused)\r\n'));
  assert.equal(await run(client, 'info'), await run(client, 'help info'));
  assert.equal(await run(client, 'help bogus'), "unknown command: 'bogus'\r\n");
});

test('unknown commands and bad arguments get QEMU wording; the monitor carries on', async () => {
  const client = await connect();
  assert.equal(await run(client, 'xyz'), "unknown command: 'xyz'\r\n");
  assert.equal(await run(client, 'info xyz'), "unknown command: 'info xyz'\r\n");
  assert.equal(await run(client, 'stop now'), 'stop: extraneous characters at the end of line\r\nTry "help stop" for more information\r\n');
  assert.equal(await run(client, 'cpu'), 'cpu: integer expected\r\nTry "help cpu" for more information\r\n');
  assert.equal(await run(client, ''), '');
  assert.equal(await run(client, 'info status'), 'VM status: running\r\n');
});

test('CR LF input, telnet bytes and several commands in one packet', async () => {
  const client = await connect();
  client.write(Buffer.concat([Buffer.from([0xff, 0xfd, 0x03]), Buffer.from('stop\r\ninfo status\r\n')]));
  const text = await client.waitFor(/VM status: paused\r\n\(qemu\) $/);
  assert.equal(text, 'stop\r\n(qemu) info status\r\nVM status: paused\r\n(qemu) ');
});

test('two clients at once each get their own session and answers', async () => {
  const a = await connect();
  const b = await connect();
  a.write('cpu 1\n');
  await a.waitFor(/\(qemu\) $/);
  assert.equal(await run(b, 'info cpus'), '* CPU #0: thread_id=1234\r\n  CPU #1: thread_id=1235\r\n', 'cpu is per session');
  a.take();
  assert.equal(await run(a, 'info cpus'), '  CPU #0: thread_id=1234\r\n* CPU #1: thread_id=1235\r\n');
  assert.equal(b.received, '', 'b saw nothing of a');
});

test('a client leaving mid-command harms nothing: the command completes, others go on', async () => {
  let release!: () => void;
  vm.gate = new Promise((resolve) => (release = resolve));
  const a = await connect();
  a.write('stop\n');
  await a.waitFor('stop\r\n');
  a.close();
  await a.ended;
  release();
  const b = await connect();
  assert.equal(await run(b, 'info status'), 'VM status: paused\r\n');
  assert.deepEqual(vm.calls, ['stop']);
});

test('quit answers nothing more and asks the VM to quit after flushing', async () => {
  const client = await connect();
  client.write('quit\n');
  await client.waitFor('quit\r\n');
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(vm.calls, ['quit']);
  assert.equal(client.received, 'quit\r\n', 'no prompt after quit');
});

test('commands registered later are callable, with generic argument parsing', async () => {
  table.register({
    name: 'migrate_set_capability',
    args: 'capability:s,state:b',
    help: 'Enable/Disable the usage of a capability for migration',
    handler: (ctx, args) => ctx.print(`${args.string('capability')}=${args.bool('state')}\n`),
  });
  table.registerInfo({ name: 'ft', help: 'show fault tolerance state', handler: (ctx) => ctx.print('FT: off\n') });
  const client = await connect();
  assert.equal(await run(client, 'migrate_set_capability ft on'), 'ft=true\r\n');
  assert.equal(await run(client, 'info ft'), 'FT: off\r\n');
  assert.ok((await run(client, 'help')).includes('migrate_set_capability capability state -- Enable/Disable'));
});

test('a handler that throws becomes an Error line, not a crash', async () => {
  table.register({
    name: 'boom',
    help: 'fails',
    handler: () => {
      throw new TypeError('something broke');
    },
  });
  const client = await connect();
  assert.equal(await run(client, 'boom'), 'Error: something broke\r\n');
  assert.equal(await run(client, 'info status'), 'VM status: running\r\n');
});

test('a client that half-closes after its commands (echo cmd | socat) still gets every answer', async () => {
  let release!: () => void;
  vm.gate = new Promise((resolve) => (release = resolve));
  const client = await connect();
  client.socket.end('stop\ninfo status\n');
  setTimeout(() => release(), 30);
  await client.ended;
  assert.equal(client.received, 'stop\r\n(qemu) info status\r\nVM status: paused\r\n(qemu) ');
});
