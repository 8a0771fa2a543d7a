import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startMonitors } from '../../src/monitor/start.js';
import { SocketServer } from '../../src/chardev/socket-server.js';
import { ChardevError } from '../../src/chardev/errors.js';
import { FakeVm } from './fake-vm.js';
import { QmpClient, SocketClient, tempDir } from '../../src/monitor/client/socket-client.js';

const unix = (path: string) => ({ kind: 'socket' as const, path, server: true as const, wait: false });

test('startMonitors runs an HMP and a QMP monitor; close() removes their sockets', async () => {
  const tmp = tempDir();
  const hmpPath = join(tmp.dir, 'vm1.monitor');
  const qmpPath = join(tmp.dir, 'vm1.qmp');
  const vm = new FakeVm();
  const set = await startMonitors(vm, [
    { mode: 'readline', chardev: unix(hmpPath) },
    { mode: 'control', chardev: { ...unix(qmpPath), wait: true } },
  ]);
  try {
    assert.deepEqual(set.monitors.map((m) => m.address), [`unix:${hmpPath}`, `unix:${qmpPath}`]);
    const qmp = await QmpClient.negotiated(qmpPath);
    const hmp = await SocketClient.connect(hmpPath);
    await hmp.waitFor('(qemu) ');
    hmp.write('stop\n');
    const event = await qmp.event();
    assert.equal(event.event, 'STOP', 'a stop typed at HMP shows up as a QMP event');
    assert.equal((await qmp.execute('query-status')).return.status, 'paused');
    qmp.close();
    hmp.close();
  } finally {
    await set.close();
    await set.close(); // idempotent
  }
  assert.equal(existsSync(hmpPath), false);
  assert.equal(existsSync(qmpPath), false);
  tmp.remove();
});

test('if one monitor cannot start, the ones already opened are closed again', async () => {
  const tmp = tempDir();
  const freePath = join(tmp.dir, 'free.monitor');
  const busyPath = join(tmp.dir, 'busy.qmp');
  const other = await SocketServer.listen(unix(busyPath));
  try {
    await assert.rejects(
      startMonitors(new FakeVm(), [
        { mode: 'readline', chardev: unix(freePath) },
        { mode: 'control', chardev: unix(busyPath) },
      ]),
      (err: unknown) => err instanceof ChardevError && err.message.includes(`monitor socket ${busyPath} is in use`),
    );
    assert.equal(existsSync(freePath), false, 'the first monitor was torn down');
  } finally {
    await other.close();
    tmp.remove();
  }
});

test('a pty monitor without an allocator fails with a ChardevError', async () => {
  await assert.rejects(startMonitors(new FakeVm(), [{ mode: 'readline', chardev: { kind: 'pty' } }]), ChardevError);
});
