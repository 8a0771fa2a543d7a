/**
 * The verify-mode monitor commands over a real HMP socket: `cuju-verify-every N` and
 * `migrate_set_parameter x-ft-verify-every N` set the period (0 turns verify off), bad
 * values are refused with one line, and `info ft` shows the setting.
 */
import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SocketServer } from '../../../src/chardev/socket-server.js';
import { HmpMonitor } from '../../../src/monitor/hmp/monitor.js';
import { hmpCommands } from '../../../src/monitor/hmp/commands.js';
import { HMP_PROMPT } from '../../../src/monitor/hmp/session.js';
import { FtController, type FtResources } from '../../../src/ft/controller.js';
import { registerFtCommands } from '../../../src/ft/monitor-commands.js';
import { registerMigrationCommands } from '../../../src/migration/monitor-commands.js';
import { DEFAULT_VERIFY_EVERY } from '../../../src/ft/verify/verify-stats.js';
import { FakeVm } from '../../monitor/fake-vm.js';
import { SocketClient, tempDir } from '../../../src/monitor/client/socket-client.js';

let tmp: ReturnType<typeof tempDir>;
let monitor: HmpMonitor;
let client: SocketClient;
let ft: FtController;

beforeEach(async () => {
  registerFtCommands();
  registerMigrationCommands();
  tmp = tempDir();
  const path = join(tmp.dir, 'vm1.monitor');
  const vm = new FakeVm();
  // Setting the period touches nothing of the machine while no primary runs.
  ft = new FtController(vm, () => {}, {} as FtResources);
  monitor = new HmpMonitor(await SocketServer.listen({ kind: 'socket', path, server: true, wait: false }), vm, hmpCommands);
  client = await SocketClient.connect(path);
  await client.waitFor(HMP_PROMPT);
  client.take();
});

afterEach(async () => {
  client.close();
  await monitor.close();
  tmp.remove();
});

async function run(line: string): Promise<string> {
  client.write(`${line}\n`);
  const text = await client.waitFor(new RegExp(`\\r\\n[^]*\\(qemu\\) $`));
  client.take();
  return text.slice(line.length + 2, -HMP_PROMPT.length);
}

test('cuju-verify-every and x-ft-verify-every set the period; 0 turns verify off', async () => {
  assert.equal(ft.stats.verify.every, DEFAULT_VERIFY_EVERY);
  assert.equal(ft.stats.verify.enabled, false);
  assert.equal(await run('cuju-verify-every 7'), '');
  assert.deepEqual([ft.stats.verify.enabled, ft.stats.verify.every], [true, 7]);
  assert.equal(await run('migrate_set_parameter x-ft-verify-every 0'), '');
  assert.equal(ft.stats.verify.enabled, false);
  assert.equal(await run('migrate_set_parameter x-ft-verify-every 50'), '');
  assert.deepEqual([ft.stats.verify.enabled, ft.stats.verify.every], [true, 50]);
});

test('bad periods are refused with one line', async () => {
  assert.match(await run('cuju-verify-every -3'), /the verify period must be 0\.\.1000000 epochs \(0 turns verify off; got -3\)/);
  assert.match(await run('migrate_set_parameter x-ft-verify-every ten'), /Parameter 'x-ft-verify-every' expects a number of epochs, 0 for off \(got 'ten'\)/);
  assert.equal(ft.stats.verify.enabled, false);
});
