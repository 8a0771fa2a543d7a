/**
 * The VM-facing half of the commands HMP and QMP share (QEMU's qmp_stop,
 * qmp_cont, qmp_query_status, ...): one place for QEMU's rules about which run
 * state allows what, so both monitors answer alike.
 */
import type { CpuInfo, RunState, VmControl } from '../vm/control.js';
import { MonitorCommandError } from './errors.js';

export interface StatusInfo {
  status: RunState;
  singlestep: boolean;
  running: boolean;
}

export function queryStatus(vm: VmControl): StatusInfo {
  const status = vm.runState();
  return { status, singlestep: false, running: status === 'running' };
}

/** QEMU's runstate_needs_reset(): states only a reset gets the guest out of. */
function needsReset(state: RunState): boolean {
  return state === 'internal-error' || state === 'shutdown';
}

export async function stopVm(vm: VmControl): Promise<void> {
  await vm.stop();
}

export async function contVm(vm: VmControl): Promise<void> {
  const state = vm.runState();
  if (needsReset(state)) throw new MonitorCommandError('Resetting the Virtual Machine is required');
  if (state === 'finish-migrate') throw new MonitorCommandError('Migration is not finalized yet');
  await vm.cont();
}

export async function resetVm(vm: VmControl): Promise<void> {
  await vm.systemReset();
}

export async function powerdownVm(vm: VmControl): Promise<void> {
  await vm.systemPowerdown();
}

export async function cpuList(vm: VmControl): Promise<CpuInfo[]> {
  return [...(await vm.cpus())].sort((a, b) => a.index - b.index);
}

/** Throws QEMU's error for a CPU index the VM does not have. */
export async function requireCpu(vm: VmControl, index: number): Promise<CpuInfo> {
  const cpu = (await vm.cpus()).find((c) => c.index === index);
  if (!cpu) throw new MonitorCommandError(`CPU#${index} not available`);
  return cpu;
}
