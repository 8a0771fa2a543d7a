/**
 * npm run bench:io — guest disk and network I/O, cuju vs QEMU on the same kernel,
 * initramfs and disk image in the same run.
 *
 * For each VMM: boot the guest with a raw disk (cache=none) and a virtio-net NIC on a
 * tap of its own private test network (src/net/testnet), then over the serial console:
 *   - dd 1 MiB O_DIRECT sequential write, then read, of /dev/vda;
 *   - one TCP stream from the client namespace into `nc -l` in the guest;
 *   - K sequential HTTP requests from the client namespace to busybox httpd in the guest.
 * QEMU runs microvm with TCG where its KVM mode can't (kvm_pvm), KVM elsewhere.
 *
 * Sizes (env): BENCH_IO_DISK_MIB (16), BENCH_IO_TCP_MIB (4), BENCH_IO_REQUESTS (20);
 * BENCH_IO_VMMS=cuju,qemu picks the VMMs. Needs root (taps, namespaces).
 */
import { spawnSync } from 'node:child_process';
import { detectBackend } from '../src/kvm/system.js';
import { TestNetwork } from '../src/net/testnet/test-network.js';
import { ConsoleVm } from './io/console-vm.js';
import { measureDisk, type DiskResult } from './io/disk.js';
import { ensureGuestAddress, measureRtt, measureTcp, type GuestPackets, type RttResult, type TcpResult } from './io/net.js';
import { createScratch, type Scratch } from './io/scratch.js';
import { markdownTable, textTable, threeDigits, type Row } from './io/table.js';
import { cujuCommand, MEM_MIB, qemuCommand, type GuestSetup } from './io/vmm-args.js';

const MiB = 1024 * 1024;
const envInt = (name: string, dflt: number): number => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got '${process.env[name]}'`);
  return v;
};

const DISK_MIB = envInt('BENCH_IO_DISK_MIB', 16);
const TCP_MIB = envInt('BENCH_IO_TCP_MIB', 4);
const REQUESTS = envInt('BENCH_IO_REQUESTS', 20);
const VMMS = (process.env.BENCH_IO_VMMS ?? 'cuju,qemu').split(',').map((s) => s.trim());
const READY = /cuju-guest: ready/;
/** A cuju boot takes ~2-3 minutes where the guest kernel is emulated; QEMU TCG ~2 s. */
const BOOT_TIMEOUT_MS = 10 * 60_000;
/** Any single measurement; at emulated-kernel speeds 16 MiB of dd takes tens of seconds. */
const STEP_TIMEOUT_MS = 5 * 60_000;

interface VmmResult {
  label: string;
  bootSeconds?: number;
  disk?: DiskResult;
  tcp?: TcpResult;
  rtt?: RttResult;
  /** Why the network part has no figures. */
  netNote?: string;
  /** Why the disk part has no figures. */
  diskNote?: string;
}

type CommandFor = (setup: GuestSetup) => { command: string; args: string[] };

async function benchVmm(label: string, commandFor: CommandFor, scratch: Scratch): Promise<VmmResult> {
  const network = TestNetwork.create({ clients: 1 });
  const setup: GuestSetup = {
    image: scratch.image,
    net: { tap: network.tap.name, mac: network.guest.mac.toString(), guestAddress: network.guest.address, gateway: network.bridge.address },
  };
  const { command, args } = commandFor(setup);
  console.log(`\n${label}: ${command} ${args.map((a) => (/[\s"]/.test(a) ? `'${a}'` : a)).join(' ')}`);
  const vm = new ConsoleVm(label, command, args);
  const result: VmmResult = { label };
  try {
    const t0 = Date.now();
    await vm.waitFor(READY, BOOT_TIMEOUT_MS);
    result.bootSeconds = (Date.now() - t0) / 1000;
    console.log(`  guest ready after ${result.bootSeconds.toFixed(1)} s`);
    // The console shell starts after the ready line (busybox init forks it): wait for its
    // first answer so no measurement includes the shell's start.
    await vm.check0(':', STEP_TIMEOUT_MS);

    try {
      result.disk = await measureDisk(vm, DISK_MIB, STEP_TIMEOUT_MS);
      const { write, read } = result.disk;
      console.log(`  disk write ${DISK_MIB} MiB: host ${write.hostSeconds.toFixed(2)} s (console ${write.consoleMs.toFixed(0)} ms subtracted), guest clock ${write.guestSeconds.toFixed(2)} s`);
      console.log(`  disk read  ${DISK_MIB} MiB: host ${read.hostSeconds.toFixed(2)} s (console ${read.consoleMs.toFixed(0)} ms subtracted), guest clock ${read.guestSeconds.toFixed(2)} s`);
      const z = result.disk.noDevice;
      console.log(`  no device (/dev/zero → /dev/null) ${DISK_MIB} MiB: host ${z.hostSeconds.toFixed(2)} s, guest clock ${z.guestSeconds.toFixed(2)} s`);
    } catch (e) {
      result.diskNote = 'failed (see log)';
      console.log(`  disk part failed: ${(e as Error).message}`);
    }

    try {
      await ensureGuestAddress(vm, network.guest.address, STEP_TIMEOUT_MS);
      result.tcp = await measureTcp(vm, network, scratch.payload, TCP_MIB * MiB, STEP_TIMEOUT_MS);
      console.log(`  TCP ${TCP_MIB} MiB namespace → guest: ${result.tcp.hostSeconds.toFixed(2)} s; ${packetSummary(result.tcp.guestPackets, result.tcp.hostSeconds)}`);
      result.rtt = await measureRtt(vm, network, scratch.wwwDir, REQUESTS, STEP_TIMEOUT_MS);
      console.log(`  HTTP: ${REQUESTS} requests, ${result.rtt.perRequestMs.toFixed(1)} ms each (client's own cost on loopback ${result.rtt.clientFloorMs.toFixed(1)} ms); ${packetSummary(result.rtt.guestPackets, result.rtt.perRequestMs * REQUESTS / 1000)}`);
    } catch (e) {
      result.netNote ??= 'failed (see log)';
      console.log(`  network part failed: ${(e as Error).message}`);
    }
    return result;
  } finally {
    await vm.stop();
    network.teardown();
  }
}

/** What the guest's eth0 counted during a measurement, per packet: where the time went. */
function packetSummary(p: GuestPackets, seconds: number): string {
  const total = p.rx + p.tx;
  const perPacket = total > 0 ? `, ${(seconds * 1000 / total).toFixed(2)} ms per packet` : '';
  return `guest eth0: ${p.rx} packets in (${p.rx > 0 ? Math.round(p.rxBytes / p.rx) : 0} bytes mean), ${p.tx} out${perPacket}`;
}

const mibPerSec = (bytes: number, seconds: number) => (seconds > 0 ? bytes / MiB / seconds : undefined);

function rows(results: VmmResult[]): Row[] {
  const pick = (f: (r: VmmResult) => number | undefined) => results.map(f);
  const rate = (v: number) => `${threeDigits(v)} MiB/s`;
  const ms = (v: number) => `${threeDigits(v)} ms`;
  const diskMissing = results.map((r) => r.diskNote ?? 'n/a');
  const netMissing = results.map((r) => r.netNote ?? 'n/a');
  return [
    { metric: 'boot to guest shell', values: pick((r) => r.bootSeconds), format: (v) => `${v.toFixed(1)} s` },
    { metric: `disk write ${DISK_MIB} MiB, host-timed`, values: pick((r) => r.disk && mibPerSec(r.disk.write.bytes, r.disk.write.hostSeconds)), format: rate, missing: diskMissing },
    { metric: '  same, guest clock', values: pick((r) => r.disk && mibPerSec(r.disk.write.bytes, r.disk.write.guestSeconds)), format: rate, missing: diskMissing },
    { metric: `disk read ${DISK_MIB} MiB, host-timed`, values: pick((r) => r.disk && mibPerSec(r.disk.read.bytes, r.disk.read.hostSeconds)), format: rate, missing: diskMissing },
    { metric: '  same, guest clock', values: pick((r) => r.disk && mibPerSec(r.disk.read.bytes, r.disk.read.guestSeconds)), format: rate, missing: diskMissing },
    { metric: `no device: dd /dev/zero → /dev/null`, values: pick((r) => r.disk && mibPerSec(r.disk.noDevice.bytes, r.disk.noDevice.hostSeconds)), format: rate, missing: diskMissing },
    { metric: `TCP ${TCP_MIB} MiB namespace → guest`, values: pick((r) => r.tcp && mibPerSec(r.tcp.bytes, r.tcp.hostSeconds)), format: rate, missing: netMissing },
    { metric: `HTTP request (mean of ${REQUESTS})`, values: pick((r) => r.rtt?.perRequestMs), format: ms, missing: netMissing },
    { metric: '  client cost alone (loopback)', values: pick((r) => r.rtt?.clientFloorMs), format: ms, missing: netMissing },
  ];
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root: it creates taps, a bridge and a network namespace per VMM (run with sudo)');
  const backend = detectBackend();
  const qemuBin = spawnSync('which', ['qemu-system-x86_64']).stdout.toString().trim();
  const accel = backend === 'kvm_pvm' || backend === 'unknown' ? 'tcg' : 'kvm';
  console.log(`bench:io — -m ${MEM_MIB}, disk ${DISK_MIB} MiB raw cache=none, TCP ${TCP_MIB} MiB, ${REQUESTS} HTTP requests; KVM backend: ${backend}`);
  const scratch = createScratch(DISK_MIB, TCP_MIB * MiB);
  try {
    const results: VmmResult[] = [];
    const header = ['metric'];
    if (VMMS.includes('cuju')) {
      results.push(await benchVmm(`cuju (KVM ${backend})`, cujuCommand, scratch));
      header.push(`cuju (KVM ${backend})`);
    }
    if (VMMS.includes('qemu')) {
      if (qemuBin) {
        results.push(await benchVmm(`QEMU microvm (${accel})`, (s) => qemuCommand(qemuBin, accel, s), scratch));
        header.push(`QEMU microvm (${accel})`);
      } else {
        console.log('\nqemu-system-x86_64 not installed (apt-get install qemu-system-x86): no baseline this run');
      }
    }
    header.push(results.length === 2 ? 'cuju ÷ QEMU' : 'ratio');
    console.log(`\nresults (${new Date().toISOString().slice(0, 10)}):\n`);
    console.log(textTable(header, rows(results)));
    console.log(`\nMarkdown:\n\n${markdownTable(header, rows(results))}`);
  } finally {
    scratch.remove();
  }
}

// Ctrl-C / kill: exit normally so the exit hooks kill the VMs and remove taps, namespaces and files.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => process.exit(130));

main().catch((e) => {
  console.error(`bench:io failed: ${(e as Error).message}`);
  process.exit(1);
});
