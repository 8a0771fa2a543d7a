/**
 * Errors a user can cause end cuju with one clear line on stderr and exit code 1 —
 * never a stack trace. Also: a guest that crashes (triple fault) is reported with the
 * exit reason and registers, and cuju exits non-zero.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CUJU, KERNEL } from '../helpers/guest-vm.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { makeElf } from '../x86/kernel-fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'cuju-cli-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

function cuju(args: string[], timeout = 60_000) {
  const r = spawnSync(process.execPath, [CUJU, ...args], { encoding: 'utf8', timeout });
  const lines = r.stderr.split('\n').filter((l) => l && !l.startsWith('cuju: note:') && !/KVM backend/.test(l));
  return { status: r.status, stderr: r.stderr, errorLines: lines };
}

function assertOneLineError(r: ReturnType<typeof cuju>, pattern: RegExp): void {
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.errorLines.length, 1, `exactly one error line:\n${r.stderr}`);
  assert.match(r.errorLines[0], /^cuju: /);
  assert.match(r.errorLines[0], pattern);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
}

test('unknown flag, bad -m, missing value', () => {
  assertOneLineError(cuju(['-frobnicate']), /unknown option '-frobnicate'/);
  assertOneLineError(cuju(['-m', 'lots', '-kernel', 'k']), /-m: 'lots' is not a size/);
  assertOneLineError(cuju(['-m', '4', '-kernel', 'k']), /too little/);
  assertOneLineError(cuju(['-kernel']), /-kernel/);
});

test('flags accepted for compatibility whose feature is missing are refused clearly', () => {
  assertOneLineError(cuju(['-kernel', 'k', '-incoming', 'defer']), /-incoming defer: waiting for migrate-incoming is not supported; give the URI directly/);
});

test('-incoming on a port another process holds: one line naming the port and the fix', { skip: kvmSkipReason() }, () => {
  const holder = spawnSync(process.execPath, ['-e', `
    const s = require('net').createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      const r = require('child_process').spawnSync(process.execPath, [${JSON.stringify(CUJU)}, '-m', '64', '-kernel', ${JSON.stringify(KERNEL)}, '-incoming', 'tcp:127.0.0.1:' + port], { encoding: 'utf8' });
      console.log(JSON.stringify({ port, status: r.status, stderr: r.stderr }));
      s.close();
    });`], { encoding: 'utf8' });
  const r = JSON.parse(holder.stdout) as { port: number; status: number; stderr: string };
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split('\n').filter((l) => !/^cuju: (KVM backend|note:)/.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], new RegExp(`port ${r.port} is already in use .*choose another port`));
});

test('disk images: missing, qcow2, and locked by another VMM', { skip: kvmSkipReason() }, () => {
  assertOneLineError(cuju(['-m', '64', '-kernel', KERNEL, '-drive', `file=${join(dir, 'none.img')},format=raw,if=virtio`]), /none\.img/);
  assertOneLineError(cuju(['-m', '64', '-kernel', KERNEL, '-drive', `file=${join(dir, 'x.img')},format=qcow2,if=virtio`]), /format 'qcow2' is not supported/);
  assertOneLineError(cuju(['-m', '64', '-kernel', KERNEL, '-device', 'virtio-blk,drive=nope']), /drive=nope names no -drive/);
});

test('missing kernel file and missing kernel flag', () => {
  assertOneLineError(cuju(['-kernel', join(dir, 'nope')]), /cannot read kernel .*no such file/);
  assertOneLineError(cuju(['-m', '64']), /no kernel given: use -kernel/);
});

test('a kernel that is not a bzImage or ELF', { skip: kvmSkipReason() }, () => {
  const bogus = join(dir, 'bogus');
  writeFileSync(bogus, 'this is not a kernel\n'.repeat(100));
  assertOneLineError(cuju(['-m', '64', '-kernel', bogus]), /not a bzImage or ELF vmlinux/);
});

test('an initrd that does not fit in guest RAM', { skip: kvmSkipReason() }, () => {
  const big = join(dir, 'big.cpio');
  writeFileSync(big, Buffer.alloc(80 * 1024 * 1024));
  assertOneLineError(cuju(['-m', '64', '-kernel', KERNEL, '-initrd', big]), /does not fit.*raise -m/);
});

test('a monitor socket already in use by a live process', { skip: kvmSkipReason() }, async () => {
  const path = join(dir, 'busy.sock');
  const server = createServer().listen(path);
  await new Promise((r) => server.once('listening', r));
  try {
    const r = await new Promise<ReturnType<typeof cuju>>((resolve) => setImmediate(() => resolve(cuju(['-m', '64', '-kernel', KERNEL, '-qmp', `unix:${path},server,nowait`]))));
    assertOneLineError(r, /in use by another process/);
  } finally {
    server.close();
  }
});

test('a guest that triple-faults is reported with exit reason and registers', { skip: kvmSkipReason() }, () => {
  // 64-bit entry: ud2. No IDT entries: #UD -> #GP -> #DF -> triple fault.
  const kernel = join(dir, 'crash.elf');
  writeFileSync(kernel, makeElf({ entry: 0x1000000, segments: [{ paddr: 0x1000000, data: Uint8Array.from([0x0f, 0x0b]) }] }));
  const r = cuju(['-m', '64', '-kernel', kernel]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /cuju: guest triple fault \(KVM_EXIT_SHUTDOWN\) on CPU 0/);
  assert.match(r.stderr, /RIP=0000000001000000/);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
});
