/**
 * npm run bench:boot — boot time and VMM memory, cuju vs QEMU on the same kernel
 * and initramfs in the same run.
 *
 * For each of N runs: start the VMM, wait for the guest's "cuju-guest: ready" line
 * (printed by /init right after the boot-timer write), record the wall time from
 * process start, and what cuju reports at its boot-timer write: the time, and its RSS
 * beyond guest RAM (process RSS minus resident guest pages, via mincore). Then the same
 * with QEMU (TCG here, where KVM can't run QEMU; KVM on VT-x/AMD-V hosts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { detectBackend } from '../src/kvm/system.js';
import { CUJU, INITRD, KERNEL } from './paths.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MEM_MIB = 128;
const APPEND = 'console=ttyS0 quiet';
const READY = 'cuju-guest: ready';
const TIMEOUT_MS = 10 * 60_000;

interface Sample { wallMs: number; bootTimerMs?: number; extraRssMiB?: number }

function bootOnce(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    const sample: Sample = { wallMs: 0 };
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${cmd}: no "${READY}" within ${TIMEOUT_MS} ms\n${out.slice(-1500)}\n${err}`)); }, TIMEOUT_MS);
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /user space reached after (\d+) ms \(VMM RSS beyond guest RAM ([\d.]+) MiB/.exec(err);
      if (m) {
        sample.bootTimerMs = Number(m[1]);
        sample.extraRssMiB = Number(m[2]);
      }
    });
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('latin1');
      if (sample.wallMs === 0 && out.includes(READY)) {
        sample.wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
        setTimeout(() => child.kill('SIGKILL'), 200);
      }
    });
    child.on('exit', () => {
      clearTimeout(timer);
      if (sample.wallMs === 0) reject(new Error(`${cmd} exited before "${READY}"\n${out.slice(-1500)}\n${err}`));
      else resolve(sample);
    });
  });
}

const stat = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return { min: s[0], median: s[Math.floor(s.length / 2)], max: s[s.length - 1] };
};
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  const backend = detectBackend();
  console.log(`bench:boot — ${RUNS} runs each, -m ${MEM_MIB}, -append "${APPEND}", KVM backend: ${backend}`);
  const cuju: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    const s = await bootOnce(process.execPath, [CUJU, '-m', String(MEM_MIB), '-kernel', KERNEL, '-initrd', INITRD, '-append', APPEND, '-serial', 'stdio'],
      { ...process.env, CUJU_BOOT_TIME: '1' });
    console.log(`  cuju run ${i + 1}: ready after ${fmt(s.wallMs)} (boot timer ${s.bootTimerMs ?? '?'} ms), VMM RSS beyond guest RAM ${s.extraRssMiB?.toFixed(1) ?? '?'} MiB`);
    cuju.push(s);
  }
  const qemuBin = spawnSync('which', ['qemu-system-x86_64']).stdout.toString().trim();
  const qemu: Sample[] = [];
  const accel = backend === 'kvm_pvm' || backend === 'unknown' ? 'tcg' : 'kvm';
  if (qemuBin) {
    for (let i = 0; i < RUNS; i++) {
      const args = ['-M', 'microvm,acpi=off', '-accel', accel, '-cpu', accel === 'kvm' ? 'host' : 'max', '-m', String(MEM_MIB), '-nodefaults', '-no-user-config',
        '-nographic', '-serial', 'stdio', '-kernel', KERNEL, '-initrd', INITRD, '-append', APPEND, '-no-reboot'];
      const s = await bootOnce(qemuBin, args, process.env);
      console.log(`  qemu (${accel}) run ${i + 1}: ready after ${fmt(s.wallMs)}`);
      qemu.push(s);
    }
  } else {
    console.log('  qemu-system-x86_64 not installed (apt-get install qemu-system-x86): no baseline this run');
  }
  const c = stat(cuju.map((s) => s.wallMs));
  const rss = stat(cuju.map((s) => s.extraRssMiB ?? NaN));
  console.log('\nresults (process start → guest /init ready):');
  console.log(`  cuju (KVM ${backend}): median ${fmt(c.median)} (min ${fmt(c.min)}, max ${fmt(c.max)})`);
  console.log(`  cuju VMM RSS beyond guest RAM: median ${rss.median.toFixed(1)} MiB (target < 60 MiB)`);
  if (qemu.length) {
    const q = stat(qemu.map((s) => s.wallMs));
    console.log(`  qemu microvm (${accel}): median ${fmt(q.median)} (min ${fmt(q.min)}, max ${fmt(q.max)})`);
    console.log(`  ratio cuju / qemu: ${(c.median / q.median).toFixed(2)}`);
  }
}

main().catch((e) => {
  console.error(`bench:boot failed: ${(e as Error).message}`);
  process.exit(1);
});
