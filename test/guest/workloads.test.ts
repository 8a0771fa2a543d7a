/**
 * The guest workloads (guest/workloads/*.c): compiled by the guest builder, cached,
 * installed in the initramfs as /bin/<name>. cuju-dirty itself is an ordinary x86-64
 * Linux program, so its behaviour (arguments, ready line, paced rate) is checked here
 * on the host; test/guest/cuju-dirty-vm.test.ts runs it in a booted guest.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isStaticElf } from '../../src/guest/busybox.js';
import { buildInitramfs, initramfsEntries } from '../../src/guest/initramfs.js';
import { guestPaths, type GuestPaths } from '../../src/guest/paths.js';
import { compileWorkload, findWorkloadSources, workloadGuestPath, type Workload } from '../../src/guest/workloads.js';

const REPO = guestPaths();
const noGcc = spawnSync('gcc', ['--version']).status !== 0 ? 'needs gcc (build-essential)' : false;
const noBusybox = (() => {
  try {
    return isStaticElf(readFileSync('/bin/busybox')) ? false : 'needs busybox-static';
  } catch {
    return 'needs busybox-static';
  }
})();

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-workloads-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** name -> { mode, data } of a newc archive (enough of the format to find files). */
function readNewc(archive: Buffer): Map<string, { mode: number; data: Buffer }> {
  const files = new Map<string, { mode: number; data: Buffer }>();
  const align = (n: number) => (n + 3) & ~3;
  let at = 0;
  for (;;) {
    const field = (i: number) => parseInt(archive.toString('ascii', at + 6 + i * 8, at + 14 + i * 8), 16);
    const nameSize = field(11);
    const size = field(6);
    const name = archive.toString('utf8', at + 110, at + 110 + nameSize - 1);
    if (name === 'TRAILER!!!') return files;
    const dataAt = align(at + 110 + nameSize);
    files.set(name, { mode: field(1), data: archive.subarray(dataAt, dataAt + size) });
    at = align(dataAt + size);
  }
}

async function cujuDirtySource(): Promise<Awaited<ReturnType<typeof findWorkloadSources>>[number]> {
  const src = (await findWorkloadSources(REPO.workloadsDir)).find((s) => s.name === 'cuju-dirty');
  assert.ok(src, `guest/workloads/cuju-dirty.c is found in ${REPO.workloadsDir}`);
  return src;
}

test('the repository\'s workloads include cuju-dirty, installed as /bin/cuju-dirty', async () => {
  await cujuDirtySource();
  assert.equal(workloadGuestPath('cuju-dirty'), 'bin/cuju-dirty');
});

test('a missing workloads folder means no workloads', async () => {
  assert.deepEqual(await findWorkloadSources('/nonexistent/cuju/workloads'), []);
});

test('initramfsEntries puts each workload at /bin/<name>, executable, and guest/rootfs still wins', () => {
  const binary = Buffer.from('\x7fELF fake');
  const w: Workload = { name: 'cuju-dirty', path: 'x.c', source: Buffer.from('int x;'), binary };
  const entries = initramfsEntries({ busybox: Buffer.from('bb'), applets: ['bin/sh'], rootfs: [], workloads: [w] });
  const e = entries.find((x) => x.path === 'bin/cuju-dirty');
  assert.ok(e && e.kind === 'file');
  assert.equal(e.mode & 0o777, 0o755);
  assert.deepEqual(Buffer.from(e.data), binary);
  const overridden = initramfsEntries({
    busybox: Buffer.from('bb'), applets: [], workloads: [w],
    rootfs: [{ kind: 'file', path: 'bin/cuju-dirty', mode: 0o700, data: Buffer.from('mine') }],
  }).find((x) => x.path === 'bin/cuju-dirty');
  assert.ok(overridden && overridden.kind === 'file');
  assert.equal(Buffer.from(overridden.data).toString(), 'mine');
});

test('cuju-dirty compiles to a small static executable, cached until its source changes', { skip: noGcc }, async (t) => {
  const dir = tempDir(t);
  const src = await cujuDirtySource();
  const first = await compileWorkload(src, dir);
  assert.ok(isStaticElf(first.binary), 'static: the initramfs has no libc');
  // Every KiB is emulated copy time at each guest boot on kvm_pvm hosts.
  assert.ok(first.binary.length < 64 * 1024, `${first.binary.length} bytes: small (no libc)`);
  const mtime = statSync(join(dir, 'cuju-dirty')).mtimeMs;
  await new Promise((r) => setTimeout(r, 20));
  await compileWorkload(src, dir);
  assert.equal(statSync(join(dir, 'cuju-dirty')).mtimeMs, mtime, 'unchanged source: the cached binary is used');
  await compileWorkload({ ...src, source: Buffer.concat([src.source, Buffer.from('\n/* edited */\n')]) }, dir);
  assert.notEqual(statSync(join(dir, 'cuju-dirty')).mtimeMs, mtime, 'edited source: compiled again');
});

test('a workload that does not compile fails the build naming the file', { skip: noGcc }, async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'broken.c');
  writeFileSync(path, 'this is not C;\n');
  await assert.rejects(
    compileWorkload({ name: 'broken', path, source: readFileSync(path) }, join(dir, 'out')),
    (e: Error) => e.name === 'GuestBuildError' && e.message.includes('broken.c'),
  );
});

interface DirtyRun { stdout: string; stderr: string; code: number | null }

/** Runs the compiled cuju-dirty on the host for `ms`, then SIGKILLs it (unless it exits first). */
function runDirty(binary: string, args: string[], ms: number): Promise<DirtyRun> {
  return new Promise((resolve) => {
    const child = spawn(binary, args);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
  });
}

test('cuju-dirty on the host: ready line, then the set rate (±5 %) in its reports', { skip: noGcc }, async (t) => {
  const dir = tempDir(t);
  const w = await compileWorkload(await cujuDirtySource(), dir);
  const bin = join(dir, w.name);
  const r = await runDirty(bin, ['8', '20000', '1'], 3600);
  assert.match(r.stdout, /^cuju-dirty: ready \(8 MiB, 2048 pages, 20000 pages\/s, tsc \d+ MHz\)\n/);
  const rates = [...r.stdout.matchAll(/pages written in [\d.]+ s \((\d+) pages\/s\)/g)].map((m) => Number(m[1]));
  assert.ok(rates.length >= 2, `at least two 1 s reports in 3.6 s: ${r.stdout}`);
  // The first report may include up to 50 ms of catch-up after start; later ones are steady.
  for (const rate of rates.slice(1)) assert.ok(Math.abs(rate - 20000) <= 1000, `rate ${rate} within 5 % of 20000`);
  const fast = await runDirty(bin, ['8', '0', '1'], 2500);
  const fastRate = Number(/\((\d+) pages\/s\)/.exec(fast.stdout)?.[1]);
  assert.ok(fastRate > 1_000_000, `rate 0 means as fast as possible: ${fastRate} pages/s`);
});

test('cuju-dirty with a RATE_FILE: SIGUSR1 sets the rate from it, a bad file leaves it unchanged', { skip: noGcc }, async (t) => {
  const dir = tempDir(t);
  const w = await compileWorkload(await cujuDirtySource(), dir);
  const rateFile = join(dir, 'rate');
  const child = spawn(join(dir, w.name), ['4', '1000', '1', rateFile]);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  t.after(() => child.kill('SIGKILL'));
  const until = async (re: RegExp, text: () => string) => {
    for (let i = 0; i < 100 && !re.test(text()); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(text(), re);
  };
  await until(/ready/, () => out);
  writeFileSync(rateFile, '30000\n');
  child.kill('SIGUSR1');
  await until(/cuju-dirty: rate 30000 pages\/s\n/, () => out);
  const from = out.length;
  await until(/(\d+) pages\/s\)\n[\s\S]*\((\d+) pages\/s\)\n/, () => out.slice(from));
  const rates = [...out.slice(from).matchAll(/\((\d+) pages\/s\)/g)].map((m) => Number(m[1]));
  assert.ok(Math.abs(rates[1] - 30000) <= 1500, `new rate ${rates[1]} within 5 % of 30000`);
  writeFileSync(rateFile, 'fast\n');
  child.kill('SIGUSR1');
  await until(/does not hold a whole number of pages\/s; rate unchanged/, () => err);
  assert.equal(child.exitCode, null, 'still running');
});

test('cuju-dirty rejects bad arguments with a usage line and status 2', { skip: noGcc }, async (t) => {
  const dir = tempDir(t);
  const w = await compileWorkload(await cujuDirtySource(), dir);
  const bin = join(dir, w.name);
  for (const [args, why] of [[['8'], /wrong number of arguments/], [['8', 'fast'], /PAGES_PER_SEC must be a whole number/], [['0', '5'], /MIB must be between/]] as const) {
    const r = await runDirty(bin, [...args], 2000);
    assert.equal(r.code, 2, `${args.join(' ')}: exit status 2`);
    assert.match(r.stderr, why);
    assert.match(r.stderr, /usage: cuju-dirty MIB PAGES_PER_SEC/);
  }
});

test('buildInitramfs compiles the workloads into the archive and rebuilds it when a source changes', { skip: noGcc || noBusybox }, async (t) => {
  const dir = tempDir(t);
  const paths: GuestPaths = {
    ...REPO,
    rootfsDir: join(dir, 'rootfs'), workloadsDir: join(dir, 'workloads'), cacheDir: join(dir, 'cache'), outDir: join(dir, 'out'),
  };
  for (const d of [paths.rootfsDir, paths.workloadsDir, paths.outDir]) mkdirSync(d, { recursive: true });
  writeFileSync(join(paths.rootfsDir, 'init'), '#!/bin/sh\n');
  chmodSync(join(paths.rootfsDir, 'init'), 0o755);
  const source = join(paths.workloadsDir, 'cuju-dirty.c');
  copyFileSync((await cujuDirtySource()).path, source);

  const archivePath = await buildInitramfs(paths);
  const stamp = () => readFileSync(join(paths.outDir, 'initramfs.cpio.sha256'), 'utf8');
  const first = stamp();
  const file = readNewc(readFileSync(archivePath)).get('bin/cuju-dirty');
  assert.ok(file, 'bin/cuju-dirty is in the archive');
  assert.equal(file.mode & 0o777, 0o755);
  assert.deepEqual(file.data, readFileSync(join(paths.cacheDir, 'workloads', 'cuju-dirty')));

  await buildInitramfs(paths);
  assert.equal(stamp(), first, 'nothing changed: same inputs hash');
  writeFileSync(source, readFileSync(source, 'utf8') + '\n/* a comment changes no code */\n');
  await buildInitramfs(paths);
  assert.notEqual(stamp(), first, 'an edited workload source rebuilds the archive');
});
