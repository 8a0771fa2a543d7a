/**
 * The guest bench:ft protects: 128 MiB (BENCH_FT_MEM), one vCPU, a virtio-net NIC, and the
 * cuju-dirty workload (guest/workloads/cuju-dirty.c) already allocated and stopped.
 * Allocating is the slow part where the guest kernel is emulated (minutes for 32 MiB),
 * so it happens once, before the snapshot test/helpers/guest-snapshot.ts caches; every
 * run restores that snapshot in about a second and only changes the workload's rate.
 *
 * The shell keeps the workload's pid in $dirty; the snapshot carries it along.
 */
import type { GuestVm } from '../../test/helpers/guest-vm.js';
import type { SnapshotRecipe } from '../../src/guest/harness/snapshot-recipe.js';

/** Workload memory: 8192 pages, enough distinct pages for 5,000 dirty pages per epoch. */
export const DIRTY_MIB = 32;
/**
 * Guest RAM, MiB (BENCH_FT_MEM, default 128): a larger guest shows which part of the
 * backup's memory beyond guest RAM is a fixed cost (Node) and which grows with the guest.
 * Each size is its own cached snapshot (a first run boots and allocates it).
 */
export const GUEST_MIB = guestMib(process.env.BENCH_FT_MEM);

function guestMib(raw: string | undefined): number {
  if (raw === undefined) return 128;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 64 || v > 3072) throw new Error(`BENCH_FT_MEM must be the guest's RAM in MiB, 64..3072, got '${raw}'`);
  return v;
}
export const RATE_FILE = '/tmp/cuju-dirty.rate';
/** cuju-dirty prints its achieved rate every REPORT_SECS while it runs. */
export const REPORT_SECS = 1;
export const ECHO_PORT = 7000;

/** Allocating 32 MiB in the emulated guest kernel took 2-4 minutes on a loaded machine (bench:migrate). */
const ALLOCATE_TIMEOUT_MS = 30 * 60_000;

export const FT_BENCH_RECIPE: SnapshotRecipe = {
  // The name carries the workload's parameters: they are part of what the snapshot holds.
  name: `ft-bench-${GUEST_MIB}m-dirty${DIRTY_MIB}m-report${REPORT_SECS}s`,
  memoryMiB: GUEST_MIB,
  nic: true,
  prepare: async (vm: GuestVm) => {
    const from = vm.output.length;
    await vm.run(`cuju-dirty ${DIRTY_MIB} 1 ${REPORT_SECS} ${RATE_FILE} & dirty=$!`);
    await vm.waitFor(/cuju-dirty: ready/, ALLOCATE_TIMEOUT_MS, from);
    const stopped = await vm.run('kill -STOP $dirty && echo workload-stopped');
    if (!/workload-stopped/.test(stopped.out)) throw new Error(`cannot stop cuju-dirty in the guest: ${stopped.out}`);
  },
};

/**
 * Run in the restored guest: its address on this run's test network, and a TCP echo
 * server (busybox nc + cat) that serves one connection at a time, again and again.
 */
export function guestNetworkSetup(address: string): string {
  return `ifconfig eth0 ${address} netmask 255.255.255.0 up; ` +
    `(while true; do nc -l -p ${ECHO_PORT} -e /bin/cat; done) </dev/null >/dev/null 2>&1 & echo echo-serving`;
}
