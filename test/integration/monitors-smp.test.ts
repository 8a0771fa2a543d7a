/**
 * One real guest with -smp 2, driven through its HMP and QMP sockets as a user would
 * (`nc -U`): status, CPUs, registers, KVM info, stop/cont with QMP events, and a
 * graceful system_powerdown that ends cuju with exit code 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GuestVm, guestSkipReason, BOOT_TIMEOUT_MS } from '../helpers/guest-vm.js';
import { SocketClient } from '../../src/monitor/client/socket-client.js';
import { hmp } from '../../src/monitor/client/hmp-command.js';

const skip = guestSkipReason();

/** QMP over a socket: answers and events kept apart. */
class Qmp {
  events: any[] = [];
  private buf = '';
  private constructor(private readonly c: SocketClient) {}
  static async open(path: string): Promise<Qmp> {
    const q = new Qmp(await SocketClient.connect(path));
    const greeting = await q.nextMessage();
    assert.ok(greeting.QMP, 'greeting');
    assert.deepEqual(await q.cmd('qmp_capabilities'), {});
    return q;
  }
  private async nextMessage(timeoutMs = 10_000): Promise<any> {
    for (;;) {
      const nl = this.c.received.indexOf('\n');
      if (nl >= 0) {
        const line = this.c.received.slice(0, nl).trim();
        this.c.received = this.c.received.slice(nl + 1);
        if (line) return JSON.parse(line);
        continue;
      }
      await this.c.waitFor('\n', timeoutMs);
    }
  }
  async cmd(execute: string, args?: object): Promise<any> {
    this.c.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + '\n');
    for (;;) {
      const m = await this.nextMessage();
      if ('event' in m) this.events.push(m);
      else if ('error' in m) throw new Error(`${execute}: ${m.error.class}: ${m.error.desc}`);
      else return m.return;
    }
  }
  async event(name: string, timeoutMs = 60_000): Promise<any> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((e) => e.event === name);
      if (i >= 0) return this.events.splice(i, 1)[0];
      const m = await this.nextMessage(Math.max(1, deadline - Date.now()));
      if ('event' in m) this.events.push(m);
    }
  }
  close(): void { this.c.close(); }
}

test('-smp 2 guest driven through HMP and QMP', { skip, timeout: BOOT_TIMEOUT_MS + 180_000 }, async () => {
  const vm = new GuestVm({ cpus: 2 });
  let qmp: Qmp | undefined;
  try {
    await vm.waitForShell();
    const cpus = await vm.run('grep -c ^processor /proc/cpuinfo');
    assert.equal(cpus.out.trim(), '2', 'the guest sees 2 CPUs');

    assert.equal(await hmp(vm.hmpPath, 'info status'), 'VM status: running');
    const infoCpus = await hmp(vm.hmpPath, 'info cpus');
    assert.match(infoCpus, /CPU #0: thread_id=\d+/);
    assert.match(infoCpus, /CPU #1: thread_id=\d+/);
    assert.match(await hmp(vm.hmpPath, 'info registers'), /RIP=[0-9a-f]{16}/);
    assert.match(await hmp(vm.hmpPath, 'info kvm'), /kvm support: enabled/);

    qmp = await Qmp.open(vm.qmpPath);
    assert.deepEqual(await qmp.cmd('query-status'), { status: 'running', singlestep: false, running: true });
    const fast = await qmp.cmd('query-cpus-fast');
    assert.equal(fast.length, 2);

    assert.equal(await hmp(vm.hmpPath, 'stop'), '');
    await qmp.event('STOP');
    assert.equal(await hmp(vm.hmpPath, 'info status'), 'VM status: paused');
    assert.equal((await qmp.cmd('query-status')).status, 'paused');
    await qmp.cmd('cont');
    await qmp.event('RESUME');
    const after = await vm.run('echo alive');
    assert.match(after.out, /alive/, 'guest runs again after cont');

    await qmp.cmd('system_powerdown');
    const shutdown = await qmp.event('SHUTDOWN', 180_000);
    assert.deepEqual(shutdown.data, { guest: true, reason: 'guest-shutdown' });
    assert.equal(await vm.exited, 0, `cuju exit code; stderr:\n${vm.stderr}`);
  } finally {
    qmp?.close();
    await vm.kill();
  }
});
