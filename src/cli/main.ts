/**
 * `cuju`: parse the QEMU-style command line, open KVM, build and boot the machine,
 * attach the console and monitors, and map the machine's end to the exit code.
 * Errors a user can cause end here as one line on stderr and exit code 1.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from './args/index.js';
import { helpText, versionText } from './help.js';
import { StdioConsole } from './console.js';
import { describeError } from './errors.js';
import { KvmSystem, backendNote } from '../kvm/system.js';
import { Machine } from '../vm/machine.js';
import { fullCmdline } from '../vm/platform-cmdline.js';
import { startMonitors } from '../monitor/start.js';
import type { MonitorSpec } from '../monitor/spec.js';

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
    process.stderr.write(`cuju: ${describeError(e)}\n`);
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
  for (const note of cmd.notes) process.stderr.write(`cuju: note: ${note}\n`);
  if (!config.kernel) throw new InputFileError('no kernel given: use -kernel PATH (cuju boots Linux directly; disk boot is not supported)');
  const kernel = readInput('kernel', '-kernel', config.kernel);
  const initrd = config.initrd ? readInput('initrd', '-initrd', config.initrd) : undefined;

  const kvm = KvmSystem.open();
  process.stderr.write(`cuju: ${backendNote(kvm.backend)}\n`);

  const serialTarget = config.serial[0];
  let consoleOut: (bytes: Uint8Array) => void = () => {};
  let stdioConsole: StdioConsole | undefined;
  const machine = new Machine({
    name: config.name ?? 'cuju',
    memoryMiB: config.memoryMiB,
    cpus: config.cpus,
    noReboot: config.noReboot,
    images: { kernel, initrd, cmdline: fullCmdline(config.append, kvm.backend) },
    serialOutput: (bytes) => consoleOut(bytes),
    kvm,
  });
  if (serialTarget?.kind === 'stdio') {
    stdioConsole = new StdioConsole({ toGuest: (b) => machine.serialInput(b), quit: () => void machine.quit() });
    consoleOut = (b) => stdioConsole!.output(b);
    stdioConsole.attach();
  }
  machine.on('crash', (msg: string) => process.stderr.write(`\ncuju: ${msg}\n`));
  machine.on('booted', (ms: number) => {
    if (process.env.CUJU_BOOT_TIME) process.stderr.write(`cuju: guest user space reached after ${ms.toFixed(0)} ms\n`);
  });
  const monitors = await startMonitors(machine, config.monitors as MonitorSpec[], {
    notice: (m) => process.stderr.write(`cuju: ${m}\n`),
  });
  machine.on('exit', (code: number) => {
    stdioConsole?.detach();
    // Let monitors flush the SHUTDOWN event and remove their sockets before the process ends.
    void monitors.close().finally(() => process.exit(code));
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      process.stderr.write(`\ncuju: terminating on signal ${sig}\n`);
      void machine.quit();
    });
  }
  machine.start();
}
