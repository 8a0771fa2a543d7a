/**
 * `npm start`'s demo: runs the guest with its shell on this terminal and the monitors
 * on unix sockets, and says how to talk to them. Only the first start boots: once the
 * guest's shell is up the demo saves a snapshot (HMP `migrate file:`), and later starts
 * resume from it in about a second (`-incoming file:`). (Later issues turn this into a
 * protected primary/backup pair.)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
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
  } catch (e) {
    rmSync(partial, { force: true });
    process.stderr.write(`\r\ncuju demo: could not save a snapshot (${(e as Error).message}); the next start boots again.\r\n`);
  }
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
