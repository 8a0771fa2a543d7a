/**
 * The process-wide HMP command table. Features register their commands at
 * module load, before startMonitors():
 *   registerHmpCommand({ name: 'migrate', args: 'detach:-d,uri:s', help: '...', handler })
 *   registerHmpInfoCommand({ name: 'migrate', help: 'show migration status', handler })
 */
import { addBuiltinHmpCommands } from './builtin-commands.js';
import { HmpCommandTable, type HmpCommandDef } from './registry.js';

/** A table holding only the built-in commands (tests build their own from this). */
export function createHmpCommandTable(): HmpCommandTable {
  const table = new HmpCommandTable();
  addBuiltinHmpCommands(table);
  return table;
}

export const hmpCommands = createHmpCommandTable();

export function registerHmpCommand(def: HmpCommandDef): void {
  hmpCommands.register(def);
}

export function registerHmpInfoCommand(def: HmpCommandDef): void {
  hmpCommands.registerInfo(def);
}
