/** Cuju's monitor commands (the original's names) and `info ft` / `query-ft`. */
import { registerHmpCommand, registerHmpInfoCommand, registerQmpCommand, registerQmpEvent } from '../monitor/index.js';
import { ftOf } from './controller.js';
import { formatInfoFt, toQmpFtInfo } from './status.js';
import { registerFtVerifyCommands } from './verify/monitor-commands.js';

let registered = false;

export function registerFtCommands(): void {
  if (registered) return;
  registered = true;
  registerFtVerifyCommands();
  for (const e of ['CUJU_FT_STARTED', 'CUJU_FT_PEER_LOST', 'CUJU_FT_FAILOVER', 'CUJU_FT_FENCED']) registerQmpEvent(e);
  registerHmpCommand({
    name: 'cuju-adjust-epoch',
    args: 'epoch:i',
    params: 'microseconds',
    help: 'set the fault-tolerance epoch length (µs of guest run time between checkpoints)',
    handler: (ctx, args) => ftOf(ctx.vm).adjustEpoch(args.int('epoch')),
  });
  registerHmpCommand({
    name: 'cuju-adjust-watermark',
    args: 'pages:i',
    params: 'pages',
    help: 'end a fault-tolerance epoch early once it dirtied this many pages (0: never)',
    handler: (ctx, args) => ftOf(ctx.vm).adjustWatermark(args.int('pages')),
  });
  registerHmpCommand({
    name: 'cuju-set-heartbeat',
    args: 'period:i,timeout:i',
    params: 'period_ms timeout_ms',
    help: 'set the fault-tolerance heartbeat period and the silence after which the peer counts as lost (ms)',
    handler: (ctx, args) => ftOf(ctx.vm).setHeartbeat(args.int('period'), args.int('timeout')),
  });
  registerHmpCommand({
    name: 'cuju-set-standby',
    args: 'uri:s',
    params: 'tcp:HOST:PORT|none',
    help: 'where to re-protect the VM automatically after a failover or a lost backup (none: manual migrate -c)',
    handler: (ctx, args) => {
      const uri = args.string('uri');
      ftOf(ctx.vm).setStandby(uri === 'none' ? undefined : uri);
    },
  });
  registerHmpCommand({
    name: 'cuju-failover',
    help: 'on the backup: take over now from the last acknowledged epoch',
    handler: (ctx) => ftOf(ctx.vm).failover(),
  });
  registerHmpCommand({
    name: 'cuju-migrate-cancel',
    help: 'on the primary: stop protecting the VM (the backup exits)',
    handler: (ctx) => ftOf(ctx.vm).cancel(),
  });
  registerHmpInfoCommand({
    name: 'ft',
    help: 'show fault-tolerance status',
    handler: (ctx) => ctx.print(formatInfoFt(ftOf(ctx.vm).stats)),
  });
  registerQmpCommand({ name: 'query-ft', handler: (ctx) => toQmpFtInfo(ftOf(ctx.vm).stats) });
  registerQmpCommand({
    name: 'cuju-adjust-epoch',
    args: { 'epoch-us': 'int' },
    handler: (ctx, args) => ftOf(ctx.vm).adjustEpoch(args['epoch-us'] as number),
  });
  registerQmpCommand({
    name: 'cuju-adjust-watermark',
    args: { pages: 'int' },
    handler: (ctx, args) => ftOf(ctx.vm).adjustWatermark(args.pages as number),
  });
  registerQmpCommand({
    name: 'cuju-set-heartbeat',
    args: { 'period-ms': 'int', 'timeout-ms': 'int' },
    handler: (ctx, args) => ftOf(ctx.vm).setHeartbeat(args['period-ms'] as number, args['timeout-ms'] as number),
  });
  registerQmpCommand({
    name: 'cuju-set-standby',
    args: { '*uri': 'str' },
    handler: (ctx, args) => ftOf(ctx.vm).setStandby(args.uri as string | undefined),
  });
  registerQmpCommand({ name: 'cuju-failover', handler: (ctx) => ftOf(ctx.vm).failover() });
  registerQmpCommand({ name: 'cuju-migrate-cancel', handler: (ctx) => ftOf(ctx.vm).cancel() });
}
