/**
 * `cuju`: parse the QEMU-style command line, open KVM, build and boot the machine,
 * attach the serial console and monitors, and map the machine's end to the exit code.
 * Errors a user can cause end here as one line on stderr and exit code 1.
 */
import { readFileSync, rmSync } from 'node:fs';
import { parseArgs } from './args/index.js';
import { helpText, versionText } from './help.js';
import { describeError } from './errors.js';
import { openSerialBackend, type SerialBackend } from './serial-backend.js';
import { isDaemonChild, reportToParent, runDaemonParent, writePidfile } from './daemonize.js';
import { KvmSystem, backendNote } from '../kvm/system.js';
import { Machine } from '../vm/machine.js';
import { fullCmdline } from '../vm/platform-cmdline.js';
import { startMonitors } from '../monitor/start.js';
import type { MonitorSpec } from '../monitor/spec.js';
import { setPtyAllocator } from '../chardev/pty.js';
import { nativePtyAllocator } from '../chardev/native-pty.js';
import { resolveDevices } from './args/devices.js';
import { openDevices } from './open-devices.js';
import { UnsupportedError } from './unsupported-error.js';
import { registerMigrationCommands } from '../migration/monitor-commands.js';
import { MigrationController } from '../migration/controller.js';
import { incomingFromFile, listenForMigration, type IncomingListener } from '../migration/incoming.js';
import { FtCancelledError, FtController } from '../ft/controller.js';
import { registerFtCommands } from '../ft/monitor-commands.js';
import { FtBackupDisks, FtOutputCommit } from '../ft/output/ft-output-commit.js';
import { ftDisks } from '../ft/disk-sync/disks.js';
import { openFtLease } from './ft-lease.js';

export class InputFileError extends Error {
  override readonly name = 'InputFileError';
}


function readInput(what: string, flag: string, path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new InputFileError(`${flag}: cannot read ${what} '${path}': ${why}`);
  }
}

export async function main(argv: string[]): Promise<void> {
  try {
    await run(argv);
  } catch (e) {
    const line = `cuju: ${describeError(e)}`;
    reportToParent({ ok: false, line });
    process.stderr.write(`${line}\n`);
    if (process.env.CUJU_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  }
}

async function run(argv: string[]): Promise<void> {
  const cmd = parseArgs(argv);
  if (cmd.kind === 'help') {
    process.stdout.write(helpText());
    return;
  }
  if (cmd.kind === 'version') {
    process.stdout.write(versionText() + '\n');
    return;
  }
  const config = cmd.config;
  if (config.daemonize && !isDaemonChild()) await runDaemonParent(argv);
  const say = (line: string) => process.stderr.write(`cuju: ${line}\n`);
  for (const note of cmd.notes) say(`note: ${note}`);
  const incoming = config.incoming?.spec;
  if (incoming?.kind === 'defer') throw new UnsupportedError('-incoming defer: waiting for migrate-incoming is not supported; give the URI directly (-incoming tcp:0:4444 or file:PATH)');
  const resolved = resolveDevices(config);
  for (const note of resolved.notes) say(`note: ${note}`);
  if (!config.kernel) throw new InputFileError('no kernel given: use -kernel PATH (cuju boots Linux directly; disk boot is not supported)');
  const kernel = readInput('kernel', '-kernel', config.kernel);
  const initrd = config.initrd ? readInput('initrd', '-initrd', config.initrd) : undefined;

  const kvm = KvmSystem.open();
  say(backendNote(kvm.backend));
  setPtyAllocator(nativePtyAllocator);

  const devices = await openDevices(resolved.devices, (m) => say(`warning: ${m}`));
  let serial: SerialBackend | undefined;
  const machine = new Machine({
    name: config.name ?? 'cuju',
    memoryMiB: config.memoryMiB,
    cpus: config.cpus,
    noReboot: config.noReboot,
    noShutdown: config.noShutdown,
    images: { kernel, initrd, cmdline: fullCmdline(config.append, kvm.backend) },
    serialOutput: (bytes) => serial?.output(bytes),
    virtio: devices.factories,
    warn: (m) => say(`warning: ${m}`),
    kvm,
  });
  registerMigrationCommands();
  registerFtCommands();
  const migration = new MigrationController(machine, say);
  // The disks as the initial disk copy of a fault-tolerance migration sees them, both roles.
  const disks = ftDisks(devices.ft.diskIds, devices.ft.disks, devices.ft.images);
  const outputs = new FtOutputCommit(devices.ft.nets, devices.ft.disks, (e) => say(`warning: fault tolerance: ${e.message}`));
  const ft = new FtController(machine, say, {
    machine,
    outputs,
    backupDisks: new FtBackupDisks(devices.ft.images, devices.ft.sharedDisks),
    disks,
    heartbeat: config.ft.heartbeat,
    key: config.ft.key,
    standby: config.ft.standby,
    pairStandby: (uri) => migration.pairFtBackup(uri),
  });
  // Everything that can fail on user input is opened before the guest starts.
  // The split-brain lease (-ft-lease, or next to a share-rw image): src/ft/lease.
  let lease;
  try {
    lease = await openFtLease(config.ft.lease, resolved.devices, say);
  } catch (e) {
    await devices.close();
    throw e;
  }
  if (lease) ft.useLease(lease, [outputs]);
  let monitors;
  try {
    monitors = await startMonitors(machine, config.monitors as MonitorSpec[], { notice: say });
  } catch (e) {
    await devices.close();
    throw e;
  }
  try {
    serial = await openSerialBackend(config.serial[0], {
      toGuest: (b) => machine.serialInput(b),
      quit: () => void machine.quit(),
      notice: say,
    });
  } catch (e) {
    await Promise.allSettled([monitors.close(), devices.close()]);
    throw e;
  }
  machine.on('crash', (msg: string) => process.stderr.write(`\ncuju: ${msg}\n`));
  machine.on('booted', (ms: number) => {
    if (!process.env.CUJU_BOOT_TIME) return;
    const m = process.memoryUsage();
    const mib = (n: number) => (n / 1048576).toFixed(1);
    say(`guest user space reached after ${ms.toFixed(0)} ms (VMM RSS beyond guest RAM ${mib(machine.vmmOverheadBytes())} MiB; JS heap ${mib(m.heapUsed)} MiB)`);
  });
  machine.on('exit', (code: number) => {
    lease?.stop();
    ft.standby.stop();
    // Let monitors flush the SHUTDOWN event and remove their sockets before the process ends.
    void Promise.allSettled([serial?.close(), monitors.close(), devices.close()]).finally(() => {
      if (config.pidfile) rmSync(config.pidfile, { force: true });
      process.exit(code);
    });
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      say(`terminating on signal ${sig}`);
      void machine.quit();
    });
  }
  let listener: IncomingListener | undefined;
  try {
    if (incoming?.kind === 'file') {
      await incomingFromFile(machine, incoming.path);
      say(`resumed the VM from ${incoming.path}`);
    } else if (incoming?.kind === 'tcp') {
      machine.awaitIncoming();
      listener = await listenForMigration(machine, {
        host: incoming.host, port: incoming.port, notice: say, key: config.ft.key,
        ft: incoming.ftMode ? {
          runBackup: (...a) => ft.runBackup(...a),
          isCancel: (e) => e instanceof FtCancelledError,
          disks,
          onCancelled: (reason) => {
            say(`${reason}: this backup exits`);
            void machine.quit();
          },
        } : undefined,
      });
    } else {
      machine.start();
    }
  } catch (e) {
    await Promise.allSettled([serial.close(), monitors.close(), devices.close()]);
    throw e;
  }
  machine.once('exit', () => listener?.close());
  if (config.pidfile) writePidfile(config.pidfile);
  reportToParent({ ok: true });
}
