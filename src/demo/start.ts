/**
 * `npm start`'s demo: boots the guest with its shell on this terminal and the
 * monitors on unix sockets, and says how to talk to them. (Later issues turn this
 * into a protected primary/backup pair.)
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { detectBackend } from '../kvm/system.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const DIR = process.env.CUJU_DEMO_DIR ?? '/tmp/cuju-demo';
mkdirSync(DIR, { recursive: true });
const monitor = join(DIR, 'vm1.monitor');
const qmp = join(DIR, 'vm1.qmp');

const slow = detectBackend() === 'kvm_pvm';
process.stderr.write(
  [
    '',
    'cuju demo: booting a Linux guest (busybox shell on this terminal).',
    slow ? '  This host has kvm_pvm (no VT-x/AMD-V): the guest kernel is emulated, boot takes ~2 minutes.' : '',
    `  HMP monitor:  echo 'info status' | nc -U ${monitor}`,
    `  QMP monitor:  nc -U ${qmp}   then {"execute":"qmp_capabilities"} {"execute":"query-status"}`,
    '  In the guest: poweroff ends the VM. Ctrl-A x quits cuju at any time.',
    '',
  ].filter((l) => l !== '').join('\n') + '\n\n',
);

const args = [
  join(ROOT, 'bin/cuju.js'), '-name', 'vm1', '-m', '128',
  '-kernel', join(ROOT, 'guest/out/bzImage'), '-initrd', join(ROOT, 'guest/out/initramfs.cpio'),
  '-append', 'console=ttyS0 quiet', '-nographic',
  '-chardev', `socket,id=mon,path=${monitor},server=on,wait=off`, '-mon', 'chardev=mon,mode=readline',
  '-qmp', `unix:${qmp},server,nowait`,
  ...process.argv.slice(2),
];
const child = spawn(process.execPath, args, { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
