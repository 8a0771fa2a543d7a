/**
 * What the option handlers accumulate while walking argv. References between
 * options (`-serial chardev:ID`, `-mon chardev=ID`) stay unresolved here,
 * because QEMU lets a -chardev come after the option that uses it;
 * resolve-config.ts settles them once every option has been read.
 */
import type { ChardevSpec, MonitorMode } from './chardev-spec.js';
import type { ChardevTarget, LegacyChardev } from './chardev-options.js';
import type { CpuTopology, FtOptions, IncomingSpec, RawOption } from './vm-config.js';
import { DEFAULT_MEMORY_MIB } from './vm-config.js';

export interface SerialRequest {
  target: LegacyChardev;
  /** The option text, for messages. */
  text: string;
}

export interface MonitorRequest {
  mode: MonitorMode;
  pretty: boolean;
  target: ChardevTarget;
  /** The flag that asked for it ('-mon', '-qmp', '-monitor'), for messages. */
  flag: string;
}

export class ParseState {
  memoryMiB = DEFAULT_MEMORY_MIB;
  cpus = 1;
  topology: CpuTopology = { sockets: 1, cores: 1, threads: 1 };
  name?: string;
  kernel?: string;
  initrd?: string;
  append?: string;
  readonly serialRequests: SerialRequest[] = [];
  readonly chardevs = new Map<string, ChardevSpec>();
  readonly monitorRequests: MonitorRequest[] = [];
  nographic = false;
  nodefaults = false;
  noReboot = false;
  noShutdown = false;
  daemonize = false;
  pidfile?: string;
  incoming?: { raw: string; spec: IncomingSpec };
  readonly drives: RawOption[] = [];
  readonly devices: RawOption[] = [];
  readonly netdevs: RawOption[] = [];
  readonly nets: RawOption[] = [];
  readonly ft: FtOptions = {};
  /** Insertion-ordered and de-duplicated: a repeated flag notes once. */
  private readonly noteSet = new Set<string>();

  note(text: string): void {
    this.noteSet.add(text);
  }

  notes(): string[] {
    return [...this.noteSet];
  }
}
