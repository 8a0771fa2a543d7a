/**
 * A diagnostic preload for cuju processes (`node --import <this file's URL>`, set by
 * bench:migrate with BENCH_MIGRATE_TRACE=1): wraps the prototype methods that mark the
 * phases of a live migration and prints one line per event on stderr,
 *
 *   cuju-trace <epoch ms, µs resolution> <event> [detail]
 *
 * so that the benchmark can line up both processes' events on one clock and say where
 * the switch-over time goes. It changes no behaviour: every wrapper calls the original.
 * It reaches into classes the VMM does not export as an API (method names of
 * OutgoingMigration, Machine, SnapshotWriter, DirtyTracker, LineChannel); if one is
 * renamed, the event just stops appearing.
 */
import { Machine } from '../../src/vm/machine.js';
import { OutgoingMigration } from '../../src/migration/outgoing.js';
import { LineChannel } from '../../src/migration/line-channel.js';
import { SnapshotWriter } from '../../src/snapshot/writer.js';
import { DirtyTracker } from '../../src/memory/dirty-tracker.js';
import type { RestoreTarget } from '../../src/snapshot/restore.js';

const now = () => (performance.timeOrigin + performance.now()).toFixed(3);
const trace = (event: string, detail = '') => process.stderr.write(`cuju-trace ${now()} ${event}${detail ? ` ${detail}` : ''}\n`);

type AnyFn = (...args: any[]) => any;

/** Wraps proto[name]: `before` and `after` (after the returned promise settles, for async methods). */
function around(proto: object, name: string, label: string, detail: (args: any[], result?: any) => string = () => ''): void {
  const p = proto as Record<string, AnyFn>;
  const original = p[name];
  if (typeof original !== 'function') {
    trace('trace-missing', `${label}.${name}`);
    return;
  }
  p[name] = function (this: unknown, ...args: any[]) {
    trace(`${label}:start`, detail(args));
    const result = original.apply(this, args);
    if (result && typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<unknown>).then((v) => { trace(`${label}:end`, detail(args, v)); return v; });
    }
    trace(`${label}:end`, detail(args, result));
    return result;
  };
}

const count = (v: any) => (v && typeof v.count === 'function' ? `pages=${v.count()}` : '');

around(OutgoingMigration.prototype, 'run', 'migrate');
around(Machine.prototype, 'freeze', 'freeze');
around(DirtyTracker.prototype, 'harvest', 'harvest', (_a, r) => (r ? count(r) : ''));
around(SnapshotWriter.prototype, 'writeRam', 'send-ram', (a) => `pass=${a[1] ?? 0}`);
around(SnapshotWriter.prototype, 'writePages', 'send-pages', (a) => `pass=${a[1]}`);
around(OutgoingMigration.prototype, 'writeMachineState', 'send-state');
around(OutgoingMigration.prototype, 'verify', 'verify-source-hash');
around(Machine.prototype, 'markMigrated', 'mark-migrated');

// Destination: the board is built inside startFromState; the stream's end (trailer
// verified) shows as the first restoreVm call; load returns once 'go' arrived; what
// remains of startFromState (GC, malloc_trim, resuming the vCPUs) comes after it.
const p = Machine.prototype as unknown as Record<string, AnyFn>;
const startFromState = p.startFromState;
p.startFromState = function (this: unknown, load: (t: RestoreTarget, e: unknown) => Promise<void>, paused?: boolean) {
  trace('incoming:start');
  const timedLoad = async (target: RestoreTarget, expected: unknown) => {
    trace('incoming:board-built');
    // A copy with own properties: the migration code spreads the target ({ ...target }).
    const t = { ...target } as RestoreTarget & Record<string, AnyFn>;
    let firstState = true;
    for (const m of ['restoreVm', 'restoreVcpu', 'restoreDevice'] as const) {
      t[m] = (...args: any[]) => {
        if (firstState) { firstState = false; trace('incoming:stream-complete'); }
        return (target as unknown as Record<string, AnyFn>)[m](...args);
      };
    }
    await load(t, expected);
    trace('incoming:load-returned');
  };
  return (startFromState.call(this, timedLoad, paused) as Promise<void>).then(() => trace('incoming:vcpus-running'));
};

// Protocol lines on both sides: which line went or came, when.
const lc = LineChannel.prototype as unknown as Record<string, AnyFn>;
const send = lc.send;
lc.send = function (this: unknown, line: string) {
  trace('line-sent', lineType(line));
  return send.call(this, line);
};
const next = lc.next;
lc.next = function (this: unknown) {
  return (next.call(this) as Promise<string>).then((line) => { trace('line-received', lineType(line)); return line; });
};

function lineType(line: string): string {
  const m = /"type"\s*:\s*"([a-z]+)"/.exec(line);
  return m ? m[1] : '?';
}
