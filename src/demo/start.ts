/**
 * `npm start`'s demo: a VM protected by Cuju fault tolerance on this machine, with a
 * service in the guest (cuju-kv: an in-memory counter and an fsync'ed log on its disk)
 * answering a client on this host over one TCP connection, the live `info ft` of both
 * VMMs, and keys that kill or freeze the primary, continue it, and re-protect the
 * survivor with a new backup. Every answer is checked against the acknowledged ones, so
 * a failover that lost anything would show at once.
 *
 *   npm start                      the live dashboard (keys on this terminal)
 *   npm start -- --auto            unattended: two failovers and a re-protection, then a
 *                                  verdict and exit status 0 (nothing lost) or 1
 *
 * The first start boots the guest once and caches a snapshot (minutes where the guest
 * kernel is emulated); later starts resume from it in about a second.
 */
import { accessSync, constants } from 'node:fs';
import { backendNote, detectBackend } from '../kvm/system.js';
import { KV_PORT } from '../guest/harness/kv-guest.js';
import { renderDashboard, type VmView } from './dashboard.js';
import { DemoPair, type DemoVm } from './demo-pair.js';
import { KvSession } from './kv-session.js';

const USAGE = 'usage: npm start [-- --auto]';
/** The client's pause between requests: a steady trickle, not a load test. */
const REQUEST_GAP_MS = 100;
const say = (line: string) => process.stderr.write(`cuju demo: ${line}\n`);

interface Options {
  auto: boolean;
}

function parseOptions(argv: string[]): Options {
  const o: Options = { auto: false };
  for (const a of argv) {
    if (a === '--auto') o.auto = true;
    else throw new Error(`unknown option '${a}' (${USAGE})`);
  }
  return o;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function vmView(pair: DemoPair, v: DemoVm | undefined): Promise<VmView | undefined> {
  if (!v) return undefined;
  return { name: v.name, pid: v.vm.pid, tap: v.tap, infoFt: await pair.infoFt(v), frozen: v.frozen, monitor: v.vm.hmpPath };
}

class Demo {
  private message = '';
  private firstAnswerSeenFor = 0;
  private refreshing = false;
  private lastEventsPrinted = 0;
  /** A key's action still running (re-protection takes seconds): other keys wait for it. */
  private busy = '';

  constructor(readonly pair: DemoPair, readonly session: KvSession, readonly backend: string, readonly live: boolean) {}

  /** Follows failovers and fenced VMMs, notes the client's first answer after a fault, redraws. */
  async refresh(): Promise<void> {
    if (this.refreshing) return;
    this.refreshing = true;
    try {
      const { pair, session } = this;
      pair.collectLogs();
      await pair.followTakeover();
      await pair.retireFenced();
      const c = session.stats;
      if (pair.faultAt > this.firstAnswerSeenFor && c.lastAnswerAt > pair.faultAt) {
        this.firstAnswerSeenFor = pair.faultAt;
        pair.event(`client: answered again ${Math.round(c.lastAnswerAt - pair.faultAt)} ms after the fault, on the same TCP connection`);
      }
      if (this.live) await this.draw();
      else this.printNewEvents();
    } finally {
      this.refreshing = false;
    }
  }

  private async draw(): Promise<void> {
    const { pair } = this;
    const lines = renderDashboard({
      backend: this.backend,
      service: `${pair.guestAddress}:${KV_PORT}`,
      client: this.session.stats,
      now: performance.now(),
      serving: (await vmView(pair, pair.serving))!,
      backup: await vmView(pair, pair.backup),
      former: await vmView(pair, pair.former),
      events: pair.events,
      message: this.message,
    });
    const cols = process.stdout.columns || 120;
    process.stdout.write(`\x1b[H\x1b[2J${lines.map((l) => l.slice(0, cols - 1)).join('\r\n')}\r\n`);
  }

  private printNewEvents(): void {
    for (const e of this.pair.events.slice(this.lastEventsPrinted)) say(e.text);
    this.lastEventsPrinted = this.pair.events.length;
  }

  /** One key from the terminal. */
  async key(k: string): Promise<boolean> {
    const { pair } = this;
    if (k === 'q' || k === '\x03') return false;
    if (this.busy) {
      this.message = `still ${this.busy}: wait for it`;
      await this.refresh();
      return true;
    }
    this.message = '';
    try {
      if (k === 'k') this.message = pair.fault('SIGKILL');
      else if (k === 's') this.message = pair.fault('SIGSTOP');
      else if (k === 'c') this.message = pair.thaw();
      else if (k === 'r') {
        this.busy = 're-protecting';
        this.message = 're-protecting: a new backup VMM, then migrate -c (live initial copy)...';
        await this.refresh();
        this.message = await pair.reprotect();
      } else this.message = `key '${k.replace(/[^\x20-\x7e]/g, '?')}' does nothing here`;
    } catch (e) {
      this.message = `failed: ${(e as Error).message.split('\n')[0]}`;
    } finally {
      this.busy = '';
    }
    await this.refresh();
    return true;
  }

  /** Waits until the VM serves from the backup and the client had `answers` more answers. */
  async awaitFailover(answers: number, timeoutMs: number): Promise<void> {
    const from = this.session.stats.answers;
    const deadline = performance.now() + timeoutMs;
    while (this.pair.backup || this.session.stats.answers < from + answers) {
      if (this.session.stats.closed || this.session.stats.bad) return;
      if (performance.now() > deadline) throw new Error(`no failover with ${answers} answers within ${timeoutMs / 1000} s`);
      await sleep(200);
      await this.refresh();
    }
  }
}

/** --auto: kill -9 the primary, re-protect the survivor, kill -9 the new primary. */
async function unattended(demo: Demo): Promise<void> {
  for (let round = 1; round <= 2; round++) {
    await sleep(5000);
    await demo.refresh();
    const problem = demo.pair.fault('SIGKILL');
    if (problem) throw new Error(problem);
    await demo.awaitFailover(10, 60_000);
    if (round === 1) {
      const problem2 = await demo.pair.reprotect();
      if (problem2) throw new Error(problem2);
      await demo.refresh();
    }
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  const backend = detectBackend();
  const backendLine = backendNote(backend);
  say(backendLine);
  if (process.getuid?.() !== 0) throw new Error('the demo needs root: it creates a bridge and taps for the two VMMs (run it as root)');
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
  } catch {
    throw new Error('the demo needs /dev/kvm (absent or not accessible here): run it on a host with KVM');
  }
  const live = !options.auto && process.stdin.isTTY === true && process.stdout.isTTY === true;
  say(backend === 'kvm_pvm'
    ? 'starting: the first start boots the guest once to snapshot it (3-10 minutes here, the guest kernel is emulated); later starts resume in a second'
    : 'starting: the first start boots the guest once to snapshot it; later starts resume in a second');
  const t0 = performance.now();
  const ticker = setInterval(() => say(`still starting (${Math.round((performance.now() - t0) / 1000)} s)...`), 30_000);
  let pair: DemoPair;
  try {
    pair = await DemoPair.start(say);
  } finally {
    clearInterval(ticker);
  }
  let session: KvSession | undefined;
  try {
    session = await KvSession.open(pair.guestAddress, KV_PORT, REQUEST_GAP_MS);
    pair.event(`client connected to the guest service ${pair.guestAddress}:${KV_PORT}`);
    const demo = new Demo(pair, session, backend === 'kvm_pvm' ? 'kvm_pvm: guest kernel emulated (slow guest I/O); the VMMs run at full speed' : backend, live);
    if (live) {
      process.stdin.setRawMode(true);
      process.stdin.setEncoding('utf8');
      const timer = setInterval(() => void demo.refresh(), 1000);
      await demo.refresh();
      await new Promise<void>((resolve) => {
        process.stdin.on('data', (k: string) => void demo.key(k.slice(0, 1)).then((go) => { if (!go) resolve(); }));
      });
      clearInterval(timer);
      process.stdin.setRawMode(false);
      process.stdin.pause();
    } else if (options.auto) {
      await unattended(demo);
    } else {
      say('no terminal: printing events; stop with Ctrl-C or kill. (npm start -- --auto runs a scripted failover)');
      const timer = setInterval(() => void demo.refresh(), 1000);
      await new Promise<void>((resolve) => { process.once('SIGINT', resolve); process.once('SIGTERM', resolve); });
      clearInterval(timer);
    }
    await demo.refresh();
    const end = await session.finish();
    const s = session.stats;
    const ok = end.ok && s.closed === null;
    process.stdout.write([
      '',
      `cuju demo: ${s.answers} answers on one TCP connection (counter ${s.counter}, ${s.written} fsync'ed records); read back from the disk: ${end.readBack ?? 'no answer'}`,
      ...pair.events.map((e) => `  ${e.at.toTimeString().slice(0, 8)}  ${e.text}`),
      ok ? 'cuju demo: nothing acknowledged was lost.' : `cuju demo: PROBLEM: ${s.bad ?? s.closed ?? 'the read-back did not answer'}`,
      '',
    ].join('\n'));
    return ok ? 0 : 1;
  } finally {
    await pair.close();
  }
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    // One line for what a user can fix; the detail of a failed start follows it.
    const [first, ...rest] = e.message.split('\n');
    say(first);
    if (rest.length && process.env.CUJU_DEMO_DEBUG) process.stderr.write(`${rest.join('\n')}\n`);
    process.exit(1);
  },
);
