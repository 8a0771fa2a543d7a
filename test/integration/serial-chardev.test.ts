/**
 * -serial on a unix socket: guest output reaches a connected client and the client's
 * keystrokes reach the guest. The tiny guest echoes every byte it receives on COM1.
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

const dir = mkdtempSync(join(tmpdir(), 'cuju-serial-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

// Polling echo loop on COM1 (no interrupts):
//   wait: mov dx,0x3fd; in al,dx; test al,1; jz wait   (LSR.DR)
//         mov dx,0x3f8; in al,dx; out dx,al; jmp wait
const ECHO = [
  0x66, 0xba, 0xfd, 0x03, 0xec, 0xa8, 0x01, 0x74, 0xf7,
  0x66, 0xba, 0xf8, 0x03, 0xec, 0xee, 0xeb, 0xef,
];

test('-serial unix:PATH,server,nowait carries bytes both ways', { skip: kvmSkipReason(), timeout: 60_000 }, async () => {
  const kernel = join(dir, 'echo.elf');
  writeFileSync(kernel, makeElf({ entry: 0x1000000, segments: [{ paddr: 0x1000000, data: Uint8Array.from(ECHO) }] }));
  const sock = join(dir, 'serial.sock');
  const child = spawnCuju(['-m', '32', '-kernel', kernel, '-serial', `unix:${sock},server,nowait`], { stdio: 'ignore' });
  try {
    let client: SocketClient | undefined;
    for (let i = 0; i < 200 && !client; i++) {
      try { client = await SocketClient.connect(sock); } catch { await new Promise((r) => setTimeout(r, 50)); }
    }
    assert.ok(client, 'serial socket is up');
    client.write('hello, guest\n');
    await client.waitFor('hello, guest\n', 20_000);
    client.write('second line\n'); // the loop keeps echoing
    await client.waitFor('hello, guest\nsecond line\n', 20_000);
    client.close();
  } finally {
    child.kill('SIGKILL');
  }
});
