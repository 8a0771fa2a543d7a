/**
 * Migration's HMP and QMP commands, QEMU's names and shapes (hmp-commands.hx,
 * qapi/migration.json). Registered once per process, before the monitors start.
 */
import { MonitorCommandError, registerHmpCommand, registerHmpInfoCommand, registerQmpCommand, registerQmpEvent } from '../monitor/index.js';
import { ftOf } from '../ft/controller.js';
import { CAPABILITIES, migrationOf, progressLine, summary, type MigrationParameters } from './controller.js';
import { formatInfoMigrate, toQmpMigrationInfo } from './status.js';

let registered = false;

function refuseUnsupportedFlags(blk: boolean, inc: boolean, resume: boolean): void {
  if (blk || inc) throw new MonitorCommandError('block migration is not supported: give both hosts the same shared image (share-rw=on), or copy the image first');
  if (resume) throw new MonitorCommandError('postcopy recovery (resume) is not supported');
}

/** HMP sizes: a number with an optional B/K/M/G/T suffix, MiB when there is none (QEMU's qemu_strtosz_MiB). */
export function parseHmpBandwidth(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([bkmgt]?)$/i.exec(text.trim());
  if (!m) throw new MonitorCommandError(`Parameter 'max_bandwidth' expects a size such as 100M or 1G (got '${text}')`);
  const unit = { '': 2 ** 20, b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase() as 'b'];
  return Math.round(Number(m[1]) * unit);
}

function parseFtVerifyEvery(value: string): number {
  if (!/^\d+$/.test(value)) throw new MonitorCommandError(`Parameter 'x-ft-verify-every' expects a number of epochs, 0 for off (got '${value}')`);
  return Number(value);
}

function hmpParameter(name: string, value: string): Partial<MigrationParameters> {
  switch (name) {
    case 'downtime-limit': {
      if (!/^\d+$/.test(value)) throw new MonitorCommandError(`Parameter 'downtime-limit' expects a number of milliseconds (got '${value}')`);
      return { downtimeLimitMs: Number(value) };
    }
    case 'max-bandwidth':
      return { maxBandwidth: parseHmpBandwidth(value) };
    default:
      throw new MonitorCommandError(`Parameter '${name}' is not a migration parameter this cuju supports (downtime-limit, max-bandwidth, x-ft-verify-every)`);
  }
}

export function registerMigrationCommands(): void {
  if (registered) return;
  registered = true;
  registerQmpEvent('MIGRATION');
  registerQmpEvent('MIGRATION_PASS');

  registerHmpCommand({
    name: 'migrate',
    args: 'detach:-d,blk:-b,inc:-i,resume:-r,cuju:-c,uri:s',
    params: '[-d] [-b] [-i] [-r] [-c] uri',
    help: 'migrate to URI (tcp:HOST:PORT live, file:PATH snapshot; -d to not wait for completion; -c Cuju fault tolerance, after migrate_set_capability cuju-ft on)',
    handler: async (ctx, args) => {
      refuseUnsupportedFlags(args.flag('blk'), args.flag('inc'), args.flag('resume'));
      const c = migrationOf(ctx.vm);
      const done = c.start(args.string('uri'), { cuju: args.flag('cuju') });
      if (args.flag('detach')) {
        void done;
        return;
      }
      const timer = setInterval(() => ctx.print(`${progressLine(c.stats())}\n`), 1000);
      const s = await done.finally(() => clearInterval(timer));
      if (s.status === 'failed') throw new MonitorCommandError(s.error ?? 'migration failed');
      if (s.status === 'cancelled') throw new MonitorCommandError('migration was cancelled');
      ctx.print(c.capabilities['cuju-ft'] ? `fault tolerance started: initial copy ${summary(s)}\n` : `migration completed: ${summary(s)}\n`);
    },
  });
  registerHmpCommand({
    name: 'migrate_cancel',
    help: 'cancel the current VM migration',
    handler: (ctx) => migrationOf(ctx.vm).cancel(),
  });
  registerHmpCommand({
    name: 'migrate_set_capability',
    args: 'capability:s,state:b',
    params: 'capability state',
    help: `enable or disable a migration capability (${CAPABILITIES.join(', ')})`,
    handler: (ctx, args) => migrationOf(ctx.vm).setCapability(args.string('capability'), args.bool('state')),
  });
  registerHmpCommand({
    name: 'migrate_set_parameter',
    args: 'parameter:s,value:s',
    params: 'parameter value',
    help: 'set a migration parameter (downtime-limit ms, max-bandwidth size/s, x-ft-verify-every epochs)',
    handler: (ctx, args) => {
      // Fault tolerance's verify period lives with the VM's FT side (src/ft/verify).
      if (args.string('parameter') === 'x-ft-verify-every') return ftOf(ctx.vm).setVerifyEvery(parseFtVerifyEvery(args.string('value')));
      return migrationOf(ctx.vm).setParameters(hmpParameter(args.string('parameter'), args.string('value')));
    },
  });
  registerHmpInfoCommand({
    name: 'migrate',
    help: 'show migration status',
    handler: (ctx) => {
      const c = migrationOf(ctx.vm);
      ctx.print(formatInfoMigrate(c.stats(), c.capabilities));
    },
  });
  registerHmpInfoCommand({
    name: 'migrate_capabilities',
    help: 'show current migration capabilities',
    handler: (ctx) => {
      for (const [k, v] of Object.entries(migrationOf(ctx.vm).capabilities)) ctx.print(`${k}: ${v ? 'on' : 'off'}\n`);
    },
  });
  registerHmpInfoCommand({
    name: 'migrate_parameters',
    help: 'show current migration parameters',
    handler: (ctx) => {
      const p = migrationOf(ctx.vm).parameters;
      ctx.print(`downtime-limit: ${p.downtimeLimitMs} ms\nmax-bandwidth: ${p.maxBandwidth} bytes/second\n`);
    },
  });

  registerQmpCommand({
    name: 'migrate',
    args: { uri: 'str', '*detach': 'bool', '*blk': 'bool', '*inc': 'bool', '*resume': 'bool' },
    handler: (ctx, args) => {
      refuseUnsupportedFlags(args.blk === true, args.inc === true, args.resume === true);
      // QMP's migrate always returns at once; MIGRATION events and query-migrate follow it.
      void migrationOf(ctx.vm).start(args.uri as string);
    },
  });
  registerQmpCommand({ name: 'migrate_cancel', handler: (ctx) => migrationOf(ctx.vm).cancel() });
  registerQmpCommand({ name: 'query-migrate', handler: (ctx) => toQmpMigrationInfo(migrationOf(ctx.vm).stats()) });
  registerQmpCommand({
    name: 'migrate-set-capabilities',
    args: { capabilities: [{ struct: { capability: 'str', state: 'bool' } }] },
    handler: (ctx, args) => {
      const c = migrationOf(ctx.vm);
      for (const cap of args.capabilities as { capability: string; state: boolean }[]) c.setCapability(cap.capability, cap.state);
    },
  });
  registerQmpCommand({
    name: 'query-migrate-capabilities',
    handler: (ctx) => Object.entries(migrationOf(ctx.vm).capabilities).map(([capability, state]) => ({ capability, state })),
  });
  registerQmpCommand({
    name: 'migrate-set-parameters',
    args: { '*downtime-limit': 'int', '*max-bandwidth': 'int', '*x-ft-verify-every': 'int' },
    handler: (ctx, args) => {
      migrationOf(ctx.vm).setParameters({
        downtimeLimitMs: args['downtime-limit'] as number | undefined,
        maxBandwidth: args['max-bandwidth'] as number | undefined,
      });
      if (args['x-ft-verify-every'] !== undefined) ftOf(ctx.vm).setVerifyEvery(args['x-ft-verify-every'] as number);
    },
  });
  registerQmpCommand({
    name: 'query-migrate-parameters',
    handler: (ctx) => {
      const p = migrationOf(ctx.vm).parameters;
      return { 'downtime-limit': p.downtimeLimitMs, 'max-bandwidth': p.maxBandwidth };
    },
  });
}
