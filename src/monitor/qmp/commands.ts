/** The process-wide QMP command table and forwarded-event list. */
import { addBuiltinQmpCommands } from './builtin-commands.js';
import { QmpCommandTable, QmpEventList, type QmpCommandDef } from './registry.js';

/**
 * The VmControl events QMP forwards by default. POWERDOWN is QEMU's event for
 * system_powerdown; it reaches clients if the VM emits it.
 */
export const DEFAULT_QMP_EVENTS = ['STOP', 'RESUME', 'RESET', 'SHUTDOWN', 'POWERDOWN'] as const;

export function createQmpCommandTable(): QmpCommandTable {
  const table = new QmpCommandTable();
  addBuiltinQmpCommands(table);
  return table;
}

export const qmpCommands = createQmpCommandTable();
export const qmpEvents = new QmpEventList(DEFAULT_QMP_EVENTS);

export function registerQmpCommand(def: QmpCommandDef): void {
  qmpCommands.register(def);
}

/** Forward VmControl event `name` to QMP clients (register before startMonitors). */
export function registerQmpEvent(name: string): void {
  qmpEvents.add(name);
}
