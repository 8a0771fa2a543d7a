/**
 * Drives the guest's cuju-dirty (allocated and stopped in the snapshot, pid in $dirty)
 * through the serial console: a new rate via its rate file and SIGUSR1, SIGCONT to run,
 * SIGSTOP to stop; and reads the rate it reports every REPORT_SECS.
 */
import type { GuestVm } from '../../test/helpers/guest-vm.js';
import { RATE_FILE } from './guest-recipe.js';

/** Sets `rate` pages/s (0 = as fast as it can) and lets it run; resolves once it confirmed the rate. */
export async function runWorkload(vm: GuestVm, rate: number): Promise<void> {
  const from = vm.output.length;
  await vm.run(`echo ${rate} > ${RATE_FILE}; kill -USR1 $dirty; kill -CONT $dirty`);
  await vm.waitFor(new RegExp(`cuju-dirty: rate ${rate} pages/s`), 60_000, from);
}

export async function stopWorkload(vm: GuestVm): Promise<void> {
  const r = await vm.run('kill -STOP $dirty && echo workload-stopped');
  if (!/workload-stopped/.test(r.out)) throw new Error(`cannot stop cuju-dirty (pid $dirty) in the guest: ${r.out}`);
}

export interface WorkloadReport {
  pages: number;
  seconds: number;
}

const REPORT = /cuju-dirty: (\d+) pages written in (\d+\.\d+) s \(\d+ pages\/s\)/g;

export function parseReports(console: string): WorkloadReport[] {
  return [...console.matchAll(REPORT)].map((m) => ({ pages: Number(m[1]), seconds: Number(m[2]) }));
}

/**
 * Pages/s over the reports in `console` (text printed during a measurement window),
 * leaving out the first: it covers time from before the window (the rate change, the
 * settling). NaN when fewer than two reports were printed.
 */
export function achievedRate(console: string): number {
  const reports = parseReports(console).slice(1);
  const seconds = reports.reduce((s, r) => s + r.seconds, 0);
  return reports.length === 0 || seconds === 0 ? NaN : reports.reduce((s, r) => s + r.pages, 0) / seconds;
}
