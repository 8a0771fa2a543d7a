/**
 * A diagnostic preload for the protected primary (`node --import <this file's URL>`,
 * set by bench:ft): times the steps of every epoch boundary and the acknowledgement of
 * every epoch, without changing behaviour (every wrapper calls the original), and prints
 *
 *   cuju-ft-epoch <wall ms> e=<epoch> pages=<n> park=<µs> get=<µs> clear=<µs> harvest=<µs>
 *                 copy=<µs> vcpu=<µs> vmstate=<µs> rest=<µs> resume=<µs> pause=<µs> total=<µs>
 *   cuju-ft-ack <wall ms> e=<epoch> us=<µs from the end of its boundary to its ack>
 *
 * on stderr, a batch every 200 ms (never inside a pause). The steps, in the order
 * FtPrimary.takeEpoch runs them:
 *   park     parkForEpoch: kick every vCPU out of KVM_RUN and wait until it is parked
 *   kex      of which: the kick → the vCPU thread out of KVM_RUN (the slowest vCPU; native stamps)
 *   kjs      of which: out of KVM_RUN → the main thread saw it and parked the vCPU
 *   harvest  DirtyTracker.harvest (get = KVM_GET_DIRTY_LOG, clear = KVM_CLEAR_DIRTY_LOG)
 *   copy     stagePages: copy the dirty pages out of guest RAM
 *   vcpu     captureVcpuState of every vCPU (registers, MSRs, LAPIC, ... ioctls)
 *   vmstate  captureVmState (irqchip, clock, ...)
 *   rest     device state, taken disk writes, building the epoch
 *   resume   resumeAfterEpoch: let the vCPU threads run again
 *   pause    from takeEpoch's start to the vCPUs resumed (what the guest loses)
 *   total    takeEpoch start to its end (FtStats' pause also counts the bookkeeping after resume)
 * The step boundaries are seen from outside: the first call of vcpuFds.map marks the
 * end of the copy, the first read of source.vm the end of the vCPU state, the first read
 * of source.machine the end of the VM state. If takeEpoch changes its order a step
 * prints as '?' instead of a wrong number. It reaches into methods that are private in
 * TypeScript (FtPrimary.takeEpoch, onAck): if one is renamed, a `cuju-ft-trace-missing`
 * line says so and the breakdown is absent.
 */
import { FtPrimary } from '../../src/ft/primary.js';
import { Machine } from '../../src/vm/machine.js';
import { DirtyTracker } from '../../src/memory/dirty-tracker.js';
import { VmFd } from '../../src/kvm/vm-fd.js';

type AnyFn = (...args: any[]) => any;
type Proto = Record<string, AnyFn>;

const MARKS = ['start', 'parked', 'getStart', 'getEnd', 'clearEnd', 'harvestEnd', 'copyEnd', 'vcpuEnd', 'vmEnd', 'resumeStart', 'resumeEnd', 'end'] as const;
type Mark = (typeof MARKS)[number];

interface Boundary {
  wallMs: number;
  t: Partial<Record<Mark, number>>;
  pages?: number;
  /** Vcpu.lastPark of the slowest vCPU (µs). */
  kex?: number;
  kjs?: number;
}

const nowUs = () => performance.now() * 1000;
let current: Boundary | undefined;
const lines: string[] = [];
const boundaryEnd = new Map<number, number>();

function mark(m: Mark): void {
  if (current && current.t[m] === undefined) current.t[m] = nowUs();
}

/** b - a in whole µs, or '?' when a mark is missing or out of order. */
function span(b: Boundary, from: Mark, to: Mark): string {
  const a = b.t[from];
  const z = b.t[to];
  return a === undefined || z === undefined || z < a ? '?' : Math.round(z - a).toString();
}

function boundaryLine(b: Boundary, epoch: number): string {
  return `cuju-ft-epoch ${b.wallMs.toFixed(3)} e=${epoch} pages=${b.pages ?? '?'} park=${span(b, 'start', 'parked')} ` +
    `kex=${b.kex === undefined || b.kex < 0 ? '?' : Math.round(b.kex)} kjs=${b.kjs === undefined || b.kjs < 0 ? '?' : Math.round(b.kjs)} ` +
    `get=${span(b, 'getStart', 'getEnd')} clear=${span(b, 'getEnd', 'clearEnd')} harvest=${span(b, 'parked', 'harvestEnd')} ` +
    `copy=${span(b, 'harvestEnd', 'copyEnd')} vcpu=${span(b, 'copyEnd', 'vcpuEnd')} vmstate=${span(b, 'vcpuEnd', 'vmEnd')} ` +
    `rest=${span(b, 'vmEnd', 'resumeStart')} resume=${span(b, 'resumeStart', 'resumeEnd')} ` +
    `pause=${span(b, 'start', 'resumeEnd')} total=${span(b, 'start', 'end')}`;
}

function wrap(proto: object, name: string, make: (original: AnyFn) => AnyFn): void {
  const p = proto as Proto;
  if (typeof p[name] !== 'function') {
    lines.push(`cuju-ft-trace-missing ${name}`);
    return;
  }
  p[name] = make(p[name]);
}

/** The source parkForEpoch returns, with the reads that end each capture step marked. */
function instrumentSource(src: Record<string, unknown>): void {
  const fds = src.vcpuFds as unknown[];
  const marked = [...fds];
  Object.defineProperty(marked, 'map', {
    value(this: unknown[], ...args: Parameters<typeof Array.prototype.map>) {
      mark('copyEnd');
      return Array.prototype.map.apply(this, args);
    },
  });
  src.vcpuFds = marked;
  for (const [key, m] of [['vm', 'vcpuEnd'], ['machine', 'vmEnd']] as const) {
    const value = src[key];
    Object.defineProperty(src, key, { get: () => { mark(m); return value; }, enumerable: true, configurable: true });
  }
}

wrap(FtPrimary.prototype, 'takeEpoch', (original) => function (this: unknown, ...args: unknown[]) {
  current = { wallMs: performance.timeOrigin + performance.now(), t: {} };
  const b = current;
  mark('start');
  return (original.apply(this, args) as Promise<{ epoch: number } | undefined>).then((content) => {
    b.t.end = nowUs();
    if (current === b) current = undefined;
    if (content) {
      lines.push(boundaryLine(b, content.epoch));
      boundaryEnd.set(content.epoch, b.t.end);
    }
    return content;
  }, (e: unknown) => {
    if (current === b) current = undefined;
    throw e;
  });
});

wrap(Machine.prototype, 'parkForEpoch', (original) => function (this: unknown, ...args: unknown[]) {
  const b = current;
  return (original.apply(this, args) as Promise<Record<string, unknown> | undefined>).then((src) => {
    if (b && current === b && src) {
      mark('parked');
      const vcpus = ((this as { vcpus?: { lastPark?: { kickToExitUs: number; exitToParkUs: number } }[] }).vcpus ?? []);
      const slowest = vcpus.map((v) => v.lastPark).filter((p) => p !== undefined).sort((x, y) => (y.kickToExitUs + y.exitToParkUs) - (x.kickToExitUs + x.exitToParkUs))[0];
      if (slowest) { b.kex = slowest.kickToExitUs; b.kjs = slowest.exitToParkUs; }
      instrumentSource(src);
    }
    return src;
  });
});

wrap(Machine.prototype, 'resumeAfterEpoch', (original) => function (this: unknown, ...args: unknown[]) {
  mark('resumeStart');
  const r = original.apply(this, args);
  mark('resumeEnd');
  return r;
});

wrap(DirtyTracker.prototype, 'harvest', (original) => function (this: unknown, ...args: unknown[]) {
  const r = original.apply(this, args) as { count(): number };
  if (current) {
    mark('harvestEnd');
    current.pages = r.count();
  }
  return r;
});

wrap(VmFd.prototype, 'getDirtyLog', (original) => function (this: unknown, ...args: unknown[]) {
  mark('getStart');
  const r = original.apply(this, args);
  mark('getEnd');
  return r;
});

wrap(VmFd.prototype, 'clearDirtyLog', (original) => function (this: unknown, ...args: unknown[]) {
  const r = original.apply(this, args);
  if (current?.t.getEnd !== undefined) mark('clearEnd');
  return r;
});

wrap(FtPrimary.prototype, 'onAck', (original) => function (this: unknown, n: number, ...rest: unknown[]) {
  const at = nowUs();
  for (const [epoch, end] of boundaryEnd) {
    if (epoch > n) continue;
    lines.push(`cuju-ft-ack ${(performance.timeOrigin + at / 1000).toFixed(3)} e=${epoch} us=${Math.round(at - end)}`);
    boundaryEnd.delete(epoch);
  }
  return original.call(this, n, ...rest);
});

setInterval(() => {
  if (lines.length === 0) return;
  process.stderr.write(lines.join('\n') + '\n');
  lines.length = 0;
}, 200).unref();
