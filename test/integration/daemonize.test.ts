/**
 * -daemonize and -pidfile: the command returns once the VM runs in the background,
 * the pidfile names the live VMM, QMP `quit` ends it and removes the pidfile; a
 * start-up error still reaches the user as one line with exit code 1.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CUJU } from '../helpers/guest-vm.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { makeElf } from '../x86/kernel-fixtures.js';
import { SocketClient } from '../../src/monitor/client/socket-client.js';

const dir = mkdtempSync(join(tmpdir(), 'cuju-daemon-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// A guest that idles forever: hlt; jmp back.
const kernel = join(dir, 'idle.elf');
writeFileSync(kernel, makeElf({ entry: 0x1000000, segments: [{ paddr: 0x1000000, data: Uint8Array.from([0xf4, 0xeb, 0xfd]) }] }));

const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

test('-daemonize returns once the VM runs; -pidfile names it; quit removes it', { skip: kvmSkipReason(), timeout: 60_000 }, async () => {
  const pidfile = join(dir, 'vm.pid');
  const qmp = join(dir, 'qmp.sock');
  const r = spawnSync(process.execPath, [CUJU, '-m', '32', '-kernel', kernel, '-daemonize', '-pidfile', pidfile, '-qmp', `unix:${qmp},server,nowait`], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const pid = Number(readFileSync(pidfile, 'utf8').trim());
  assert.ok(pid > 0 && alive(pid), 'the daemon runs');
  const c = await SocketClient.connect(qmp);
  c.write('{"execute":"qmp_capabilities"}\n{"execute":"query-status"}\n');
  await c.waitFor(/"status": ?"running"/, 10_000);
  c.write('{"execute":"quit"}\n');
  await c.ended;
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((res) => setTimeout(res, 50));
  assert.equal(alive(pid), false, 'quit ended the daemon');
  assert.equal(existsSync(pidfile), false, 'pidfile removed');
});

test('a daemon that fails to start reports one line and exit 1', { skip: kvmSkipReason(), timeout: 60_000 }, () => {
  const r = spawnSync(process.execPath, [CUJU, '-m', '32', '-kernel', join(dir, 'missing'), '-daemonize'], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cuju: -kernel: cannot read kernel .*no such file/);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
});
