/**
 * The HMP command table: top-level commands plus the `info` sub-table, so
 * later features add commands (migrate, migrate_set_capability, ...) and info
 * items (info migrate, info ft, ...) without touching the monitor.
 */
import type { VmControl } from '../../vm/control.js';
import { parseArgSpec, usageFromSpec, type HmpArgs, type HmpArgSpec } from './args.js';

export interface HmpContext {
  readonly vm: VmControl;
  /** Output to this client; `\n` becomes `\r\n` on the wire. Dropped if the client left. */
  print(text: string): void;
  /** The monitor's current CPU (`cpu N`), default 0. */
  readonly cpuIndex: number;
  setCpuIndex(index: number): void;
  readonly commands: HmpCommandTable;
  /** Run `action` once this command's output has been flushed to the client (e.g. quit). */
  afterReply(action: () => Promise<void> | void): void;
  /** Stop reading commands and showing the prompt on this session (QEMU's monitor_suspend on quit). */
  suspend(): void;
}

export interface HmpCommandDef {
  name: string;
  aliases?: readonly string[];
  /** QEMU args_type string, see args.ts; empty or absent: no arguments. */
  args?: string;
  /** Usage shown by `help`; derived from `args` when absent. */
  params?: string;
  /** One line for `help`. */
  help: string;
  handler(ctx: HmpContext, args: HmpArgs): void | Promise<void>;
}

export interface HmpCommand extends HmpCommandDef {
  readonly argSpecs: readonly HmpArgSpec[];
  readonly usage: string;
}

export class DuplicateHmpCommandError extends Error {
  override readonly name = 'DuplicateHmpCommandError';
}

class CommandList {
  private readonly byName = new Map<string, HmpCommand>();
  private readonly commands: HmpCommand[] = [];

  add(def: HmpCommandDef, prefix: string): void {
    const names = [def.name, ...(def.aliases ?? [])];
    for (const name of names) {
      if (this.byName.has(name)) throw new DuplicateHmpCommandError(`HMP command '${prefix}${name}' is registered twice`);
    }
    const argSpecs = parseArgSpec(def.args ?? '');
    const command: HmpCommand = { ...def, argSpecs, usage: def.params ?? usageFromSpec(argSpecs) };
    for (const name of names) this.byName.set(name, command);
    this.commands.push(command);
  }

  find(name: string): HmpCommand | undefined {
    return this.byName.get(name);
  }

  /** Sorted by name, as QEMU's `help` lists them. */
  list(): HmpCommand[] {
    return [...this.commands].sort((a, b) => a.name.localeCompare(b.name));
  }
}

export class HmpCommandTable {
  private readonly top = new CommandList();
  private readonly infoItems = new CommandList();

  register(def: HmpCommandDef): void {
    this.top.add(def, '');
  }

  registerInfo(def: HmpCommandDef): void {
    this.infoItems.add(def, 'info ');
  }

  find(name: string): HmpCommand | undefined {
    return this.top.find(name);
  }

  findInfo(name: string): HmpCommand | undefined {
    return this.infoItems.find(name);
  }

  list(): HmpCommand[] {
    return this.top.list();
  }

  listInfo(): HmpCommand[] {
    return this.infoItems.list();
  }
}

/** QEMU's help line: `cont|c  -- resume emulation`. */
export function helpLine(command: HmpCommand, prefix = ''): string {
  const names = [command.name, ...(command.aliases ?? [])].join('|');
  return `${prefix}${names} ${command.usage} -- ${command.help}\n`;
}
