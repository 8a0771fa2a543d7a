/**
 * `npm start`'s demo: runs the guest with its shell on this terminal and the monitors
 * on unix sockets, and says how to talk to them. Only the first start boots: once the
 * guest's shell is up the demo saves a snapshot (HMP `migrate file:`), and later starts
 * resume from it in about a second (`-incoming file:`). Then a backup VMM on this
 * machine protects the VM (Cuju FT); kill -9 of the primary moves this terminal to the
 * backup's console, where the same shell carries on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectBackend } from '../kvm/system.js';
import { snapshotCacheKey } from '../snapshot/cache-key.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const DIR = process.env.CUJU_DEMO_DIR ?? '/tmp/cuju-demo';
mkdirSync(DIR, { recursive: true });
const monitor = join(DIR, 'vm1.monitor');
const qmp = join(DIR, 'vm1.qmp');

const kernel = join(ROOT, 'guest/out/bzImage');
const initrd = join(ROOT, 'guest/out/initramfs.cpio');
const machineArgs = ['-m', '128', '-kernel', kernel, '-initrd', initrd, '-append', 'console=ttyS0 quiet'];
const extra = process.argv.slice(2);
// Extra flags may change the machine: then boot as asked and keep no snapshot.
const snapshot = extra.length === 0
  ? join(ROOT, 'guest/out/snapshots', `demo-${snapshotCacheKey([kernel, initrd], JSON.stringify(machineArgs))}.snap`)
  : undefined;
const resuming = snapshot !== undefined && existsSync(snapshot);

const slow = detectBackend() === 'kvm_pvm';
process.stderr.write(
  [
    '',
    resuming
      ? 'cuju demo: resuming the Linux guest from its snapshot (no boot needed); press Enter for a prompt.'
      : 'cuju demo: booting a Linux guest (busybox shell on this terminal).',
    slow && !resuming ? '  This host has kvm_pvm (no VT-x/AMD-V): the guest kernel is emulated, boot takes ~2 minutes.\n  The next `npm start` resumes from a snapshot taken once the shell is up.' : '',
    `  HMP monitor:  echo 'info status' | nc -U ${monitor}`,
    `  QMP monitor:  nc -U ${qmp}   then {"execute":"qmp_capabilities"} {"execute":"query-status"}`,
    '  In the guest: poweroff ends the VM. Ctrl-A x quits cuju at any time.',
    extra.length === 0 ? '  Once the shell is up, a backup VMM on this machine protects the VM (Cuju fault tolerance).' : '',
    '',
  ].filter((l) => l !== '').join('\n') + '\n\n',
);

const args = [
  join(ROOT, 'bin/cuju.js'), '-name', 'vm1', ...machineArgs, '-nographic',
  '-chardev', `socket,id=mon,path=${monitor},server=on,wait=off`, '-mon', 'chardev=mon,mode=readline',
  '-qmp', `unix:${qmp},server,nowait`,
  ...extra,
  ...(resuming ? ['-incoming', `file:${snapshot}`] : []),
];
// The console passes through this process, so the demo sees when the shell is up.
const child = spawn(process.execPath, args, { stdio: ['inherit', 'pipe', 'inherit'] });
if (resuming) setTimeout(() => void protect(), 1500);
let seen = '';
child.stdout!.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk);
  if (!snapshot || resuming || seen === 'saved') return;
  seen = (seen + chunk.toString('latin1')).slice(-200);
  if (seen.includes('cuju-guest: ready')) {
    seen = 'saved';
    void saveSnapshot(snapshot);
  }
});
child.on('exit', (code, signal) => {
  if (signal && backup && backup.exitCode === null) {
    // The primary died: the backup has taken over; this terminal continues on its console.
    attachToBackupConsole();
    return;
  }
  backup?.kill('SIGKILL');
  if (resuming && code === 1) {
    // cuju said why on stderr; a snapshot it refuses is of no further use.
    rmSync(snapshot!, { force: true });
    process.stderr.write('cuju demo: the snapshot could not be resumed and was removed; `npm start` boots afresh next time.\n');
  }
  process.exit(code ?? (signal ? 1 : 0));
});

/** One HMP command; resolves with what the monitor printed. */
function hmp(command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createConnection(monitor);
    let out = '';
    let sent = false;
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      out += d;
      if (!sent && out.includes('(qemu) ')) {
        sent = true;
        out = '';
        s.write(command + '\n');
      } else if (sent && /\(qemu\) $/.test(out)) {
        s.end();
        resolve(out);
      }
    });
    s.on('error', reject);
  });
}

async function saveSnapshot(path: string): Promise<void> {
  mkdirSync(join(ROOT, 'guest/out/snapshots'), { recursive: true });
  const partial = `${path}.partial`;
  try {
    const out = await hmp(`migrate file:${partial}`);
    if (!/migration completed/.test(out)) throw new Error(out.trim());
    renameSync(partial, path);
    process.stderr.write('\r\ncuju demo: snapshot saved; the next `npm start` resumes from it.\r\n');
    void protect();
  } catch (e) {
    rmSync(partial, { force: true });
    process.stderr.write(`\r\ncuju demo: could not save a snapshot (${(e as Error).message}); the next start boots again.\r\n`);
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));

// --- Fault tolerance: a backup VMM on this machine protects the demo VM ---------------

const backupMonitor = join(DIR, 'backup.monitor');
const backupConsole = join(DIR, 'backup.console');
const backupLog = join(DIR, 'backup.log');
let backup: ChildProcess | undefined;

function say(text: string): void {
  process.stderr.write(`\r\ncuju demo: ${text.replace(/\n/g, '\r\n')}\r\n`);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Starts the backup (same machine, -incoming ...,ft_mode) and protects the VM with it. */
async function protect(): Promise<void> {
  if (extra.length > 0 || backup) return;
  const port = await freePort();
  const log = openSync(backupLog, 'w');
  backup = spawn(process.execPath, [
    join(ROOT, 'bin/cuju.js'), '-name', 'vm1-backup', ...machineArgs,
    '-serial', `unix:${backupConsole},server,nowait`,
    '-monitor', `unix:${backupMonitor},server,nowait`,
    '-incoming', `tcp:127.0.0.1:${port},ft_mode`,
  ], { stdio: ['ignore', log, log] });
  closeSync(log);
  for (let i = 0; i < 100 && !readFileSync(backupLog, 'utf8').includes('waiting for an incoming migration'); i++) {
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    await hmp('migrate_set_capability cuju-ft on');
    const out = await hmp(`migrate -c tcp:127.0.0.1:${port}`);
    if (!/fault tolerance started/.test(out)) throw new Error(out.replace(/\(qemu\) /g, '').trim());
    say([
      `the VM is now protected by a backup VMM (pid ${backup.pid}, log ${backupLog}): epochs every 5 ms.`,
      `  Status:   watch -n 1 "echo 'info ft' | nc -U ${monitor}"`,
      `  Failover: kill -9 ${child.pid}   (the primary) - this terminal then continues on the backup.`,
    ].join('\n'));
  } catch (e) {
    say(`could not start fault tolerance: ${(e as Error).message}`);
  }
}

/** After the primary's death: this terminal becomes the backup's console (Ctrl-] leaves). */
function attachToBackupConsole(): void {
  say(`the primary (pid ${child.pid}) is gone; the backup took over - this is its console now (Ctrl-] quits).`);
  const console = createConnection(backupConsole);
  if (process.stdin.isTTY) process.stdin.setRawMode(true);
  process.stdin.on('data', (d: Buffer) => {
    if (d.includes(0x1d)) {
      backup?.kill('SIGTERM');
      process.exit(0);
    }
    console.write(d);
  });
  console.on('data', (d) => process.stdout.write(d));
  console.on('error', (e) => say(`backup console: ${e.message}`));
  console.write('\n');
  backup?.on('exit', (code) => process.exit(code ?? 1));
}
