/** The monitors' public surface: what the VMM and feature modules import. */
export { startMonitors, type MonitorSet, type RunningMonitor, type StartMonitorsOptions } from './start.js';
export type { MonitorSpec, MonitorMode } from './spec.js';
export { MonitorCommandError, type QmpErrorClass } from './errors.js';
export { registerHmpCommand, registerHmpInfoCommand } from './hmp/commands.js';
export type { HmpCommandDef, HmpContext } from './hmp/registry.js';
export type { HmpArgs } from './hmp/args.js';
export { registerQmpCommand, registerQmpEvent } from './qmp/commands.js';
export type { QmpCommandDef, QmpContext } from './qmp/registry.js';
export type { QmpArgSchema, QmpType } from './qmp/schema.js';
