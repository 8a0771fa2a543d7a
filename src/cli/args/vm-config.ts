/**
 * Everything the command line says about the VM to start, after parsing and
 * validation. main turns this into a Machine plus monitors; nothing here has
 * touched the host yet (no files opened, no sockets bound).
 */
import type { KeyValueEntry } from './key-value.js';
import type { ChardevSpec, MonitorSpec, SerialTarget } from './chardev-spec.js';

/** QEMU's default guest RAM when -m is not given. */
export const DEFAULT_MEMORY_MIB = 128;
/** Below this a Linux guest does not get through early boot; refuse rather than hang. */
export const MIN_MEMORY_MIB = 32;
/** Only the low RAM region below the 3 GiB MMIO hole is mapped for now. */
export const MAX_MEMORY_MIB = 3072;
export const MAX_CPUS = 4;

export interface CpuTopology {
  sockets: number;
  cores: number;
  threads: number;
}

/** Where a -incoming migration stream comes from. */
export type IncomingSpec =
  | {
      kind: 'tcp';
      /** Listen address; QEMU's empty host and `0` both mean every IPv4 address. */
      host: string;
      port: number;
      /** Cuju's `,ft_mode`: this VM is the fault-tolerance backup of the sender. */
      ftMode: boolean;
    }
  | { kind: 'file'; path: string }
  /** `-incoming defer`: wait for migrate-incoming on the monitor. */
  | { kind: 'defer' };

/** One device-ish flag kept verbatim for the later device work. */
export interface RawOption {
  /** The flag, without dashes: 'drive', 'device', 'netdev' or 'net'. */
  flag: string;
  /** The option string exactly as given. */
  text: string;
  /** Its parsed key=value pairs in order (implied key filled in, `,,` unescaped). */
  entries: KeyValueEntry[];
}

/** Project extensions for fault tolerance, reserved now and kept raw. */
export interface FtOptions {
  /** -ft-heartbeat, e.g. '10ms,timeout=100ms', parsed (src/cli/args/ft-heartbeat.ts). */
  heartbeat?: { periodMs: number; timeoutMs: number };
  /** -ft-key: file with the replication channel's shared key. */
  keyFile?: string;
  /** Its bytes, read and checked at startup (src/ft/key-file.ts). */
  key?: Buffer;
  /** -ft-lease: where the primary/backup lease lives. */
  lease?: string;
  /** -ft-standby: tcp:HOST:PORT of a VMM waiting to become the next backup (src/ft/standby.ts). */
  standby?: string;
}

export interface VmConfig {
  memoryMiB: number;
  cpus: number;
  topology: CpuTopology;
  name?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  /** Serial ports in order: index 0 is COM1. Empty means no serial port. */
  serial: SerialTarget[];
  /** Every -chardev by id (whether or not something uses it). */
  chardevs: Map<string, ChardevSpec>;
  monitors: MonitorSpec[];
  nographic: boolean;
  noReboot: boolean;
  /** -no-shutdown: keep the VMM (and its monitors) alive after the guest powers off. */
  noShutdown: boolean;
  daemonize: boolean;
  pidfile?: string;
  incoming?: { raw: string; spec: IncomingSpec };
  drives: RawOption[];
  devices: RawOption[];
  netdevs: RawOption[];
  nets: RawOption[];
  ft: FtOptions;
}
