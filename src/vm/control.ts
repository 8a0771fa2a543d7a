/**
 * What the monitors (HMP, QMP) and the CLI may ask of a running VM. The VM
 * implements this; the monitors depend on nothing else of it.
 */
import type { EventEmitter } from 'node:events';

/** QEMU's RunState names, as QMP's query-status reports them. */
export type RunState =
  | 'prelaunch'
  | 'running'
  | 'paused'
  | 'shutdown'
  | 'internal-error'
  | 'inmigrate'
  | 'postmigrate'
  | 'finish-migrate';

export interface CpuInfo {
  index: number;
  /** Host thread id of the vCPU thread (QEMU prints it in `info cpus`). */
  threadId: number;
  /** Current instruction pointer (RIP) as of the last exit/pause. */
  pc: bigint;
  halted: boolean;
}

export interface KvmInfo {
  /** KVM acceleration enabled and in use. */
  enabled: boolean;
  present: boolean;
  /** e.g. 'kvm_intel', 'kvm_amd', 'kvm_pvm'. */
  backend: string;
  /** One line that says what the backend means for guest speed. */
  note: string;
}

/**
 * Events: 'STOP', 'RESUME', 'RESET' ({guest: boolean, reason: string}),
 * 'SHUTDOWN' ({guest: boolean, reason: string}); QMP forwards them as events.
 */
export interface VmControl extends EventEmitter {
  readonly name: string;
  runState(): RunState;
  /** Pause all vCPUs (idempotent). Resolves once every vCPU is out of KVM_RUN. */
  stop(): Promise<void>;
  /** Resume all vCPUs (idempotent). */
  cont(): Promise<void>;
  /** Reset the machine as if its reset line were pulled (reboots the guest). */
  systemReset(): Promise<void>;
  /** Ask the guest to power off (ACPI-button equivalent); returns at once. */
  systemPowerdown(): Promise<void>;
  /** End the VMM process (after the monitors had their chance to answer). */
  quit(): Promise<void>;
  cpus(): Promise<CpuInfo[]>;
  /** QEMU-style `info registers` text for one vCPU (default: the monitor's current CPU, 0). */
  registersText(cpuIndex?: number): Promise<string>;
  kvmInfo(): KvmInfo;
}
