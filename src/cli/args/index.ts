/** The command-line parser's public surface, for src/cli/main.ts. */
export { parseArgs, type ParsedCommand } from './parse-args.js';
export { UsageError } from './usage-error.js';
export { parseKeyValue, formatKeyValue, boolValue, KeyValueList, type KeyValueEntry } from './key-value.js';
export type { ChardevSpec, MonitorSpec, MonitorMode, SerialTarget } from './chardev-spec.js';
export * from './vm-config.js';
