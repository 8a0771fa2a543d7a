/**
 * The QMP command table and the list of VM events QMP forwards. Features
 * register at module load, before startMonitors():
 *   registerQmpCommand({ name: 'migrate', args: { uri: 'str', '*detach': 'bool' }, handler })
 *   registerQmpEvent('MIGRATION')   // then vm.emit('MIGRATION', { status: 'active' })
 */
import type { VmControl } from '../../vm/control.js';
import type { HmpCommandTable } from '../hmp/registry.js';
import type { QmpArgSchema, QmpArguments } from './schema.js';

/** Per-client protocol state. */
export interface QmpSessionState {
  /** qmp_capabilities has been accepted: command mode, events flow. */
  negotiated: boolean;
  /** The client enabled the 'oob' capability. */
  oobEnabled: boolean;
}

export interface QmpContext {
  readonly vm: VmControl;
  readonly state: QmpSessionState;
  readonly commands: QmpCommandTable;
  /** For human-monitor-command. */
  readonly hmpCommands: HmpCommandTable;
  /** Run `action` once the response has been flushed to the client (e.g. quit). */
  afterReply(action: () => Promise<void> | void): void;
}

export interface QmpCommandDef {
  name: string;
  /** QAPI-style argument schema; absent: the command takes no arguments. */
  args?: QmpArgSchema;
  /** May run out of band (`exec-oob`), ahead of queued commands. */
  allowOob?: boolean;
  /** Return value becomes `"return"`; undefined means `{}`. Throw MonitorCommandError for QMP errors. */
  handler(ctx: QmpContext, args: QmpArguments): unknown | Promise<unknown>;
}

export class DuplicateQmpCommandError extends Error {
  override readonly name = 'DuplicateQmpCommandError';
}

export class QmpCommandTable {
  private readonly byName = new Map<string, QmpCommandDef>();

  register(def: QmpCommandDef): void {
    if (this.byName.has(def.name)) throw new DuplicateQmpCommandError(`QMP command '${def.name}' is registered twice`);
    this.byName.set(def.name, def);
  }

  find(name: string): QmpCommandDef | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}

/** VM events (VmControl emits them) that QMP clients receive. */
export class QmpEventList {
  private readonly names = new Set<string>();

  constructor(initial: readonly string[]) {
    for (const name of initial) this.names.add(name);
  }

  add(name: string): void {
    this.names.add(name);
  }

  list(): string[] {
    return [...this.names];
  }
}
