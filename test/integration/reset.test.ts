/**
 * The reset path without Linux: a tiny 64-bit kernel prints "A" on COM1 and pulls the
 * i8042 reset line. Without -no-reboot cuju rebuilds the machine and it boots again
 * (QMP RESET event); with -no-reboot cuju exits 0, as QEMU does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCuju } from '../helpers/guest-vm.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { makeElf } from '../x86/kernel-fixtures.js';
import { SocketClient } from '../../src/monitor/client/socket-client.js';

const dir = mkdtempSync(join(tmpdir(), 'cuju-reset-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// mov dx,0x3f8; mov al,'A'; out dx,al; mov al,0xfe; out 0x64,al; hlt
const CODE = [0x66, 0xba, 0xf8, 0x03, 0xb0, 0x41, 0xee, 0xb0, 0xfe, 0xe6, 0x64, 0xf4];
const kernel = join(dir, 'reset.elf');
writeFileSync(kernel, makeElf({ entry: 0x1000000, segments: [{ paddr: 0x1000000, data: Uint8Array.from(CODE) }] }));

test('guest reset reboots the machine and emits RESET', { skip: kvmSkipReason(), timeout: 60_000 }, async () => {
  const qmpPath = join(dir, 'qmp.sock');
  const child = spawnCuju(['-m', '32', '-kernel', kernel, '-serial', 'stdio', '-qmp', `unix:${qmpPath},server,nowait`]);
  let out = '';
  const threeBoots = new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.length >= 3) resolve();
  }));
  try {
    await threeBoots;
    assert.match(out, /^AAA/);
    const q = await SocketClient.connect(qmpPath);
    q.write('{"execute":"qmp_capabilities"}\n');
    await q.waitFor(/"event": ?"RESET".*"guest": ?true/, 10_000);
    q.close();
  } finally {
    child.kill('SIGKILL');
  }
});

test('with -no-reboot a guest reset ends cuju with exit code 0', { skip: kvmSkipReason(), timeout: 60_000 }, async () => {
  const child = spawnCuju(['-m', '32', '-kernel', kernel, '-serial', 'stdio', '-no-reboot']);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 0);
  assert.equal(out, 'A');
});

test('with -no-shutdown a guest power-off keeps cuju and its monitors', { skip: kvmSkipReason(), timeout: 60_000 }, async () => {
  // mov dx,0x600; mov al,1; out dx,al (cuju power port: power off); jmp $
  const off = join(dir, 'poweroff.elf');
  writeFileSync(off, makeElf({ entry: 0x1000000, segments: [{ paddr: 0x1000000, data: Uint8Array.from([0x66, 0xba, 0x00, 0x06, 0xb0, 0x01, 0xee, 0xeb, 0xfe]) }] }));
  const qmpPath = join(dir, 'qmp-noshutdown.sock');
  const child = spawnCuju(['-m', '32', '-kernel', off, '-no-shutdown', '-qmp', `unix:${qmpPath},server,nowait`]);
  try {
    let q: SocketClient | undefined;
    for (let i = 0; i < 100 && !q; i++) {
      try { q = await SocketClient.connect(qmpPath); } catch { await new Promise((r) => setTimeout(r, 50)); }
    }
    assert.ok(q, 'QMP socket up');
    q.write('{"execute":"qmp_capabilities"}\n');
    await new Promise((r) => setTimeout(r, 300));
    q.write('{"execute":"query-status"}\n');
    await q.waitFor(/"status": ?"shutdown"/, 10_000);
    assert.equal(child.exitCode, null, 'cuju still runs');
    q.write('{"execute":"quit"}\n');
    assert.equal(await new Promise((r) => child.on('exit', r)), 0);
  } finally {
    child.kill('SIGKILL');
  }
});
