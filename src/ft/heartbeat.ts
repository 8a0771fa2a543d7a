/**
 * Peer-loss detection on the FT channel without any TCP close: a primary that hangs, is
 * SIGSTOPped or loses power, or a link that goes silent, sends no FIN or RST; TCP would
 * notice only after minutes of retransmissions. Each side runs one PeerWatch: a timer on
 * the event loop that, every period, sends a HEARTBEAT when this side has been idle, and
 * declares the peer lost when this side has been *asking* for the peer's bytes for a whole
 * timeout without getting any.
 *
 * Life is any byte from the peer, not whole frames: while a 50 MiB epoch arrives, its
 * chunks are the sign of life, so a heartbeat never has to overtake (or queue behind)
 * megabytes on the one ordered connection. Heartbeats are for when nothing else flows.
 *
 * False alarms caused by this side itself are avoided three ways:
 * - silence is measured only while the reader waits for bytes: a backup busy applying an
 *   epoch is not reading, so what the primary sent meanwhile is in the socket buffers;
 * - when the check runs much later than scheduled, this side's own event loop was stalled
 *   (a long epoch pause, GC, SIGSTOP of this process): whatever the peer sent meanwhile is
 *   still unread, so the peer is given a fresh timeout from now instead of being blamed;
 * - the verdict is confirmed after the event loop's I/O poll (setImmediate): bytes that
 *   were already in the kernel are read first, and count.
 * Time is performance.now() (monotonic), read at the moment of each check.
 */

export interface HeartbeatSettings {
  /** How often a side checks its peer and, when idle, sends a HEARTBEAT. */
  periodMs: number;
  /** Silence (while waiting for the peer) after which the peer is declared lost. */
  timeoutMs: number;
}

/**
 * 50 ms / 500 ms by default. A dead primary process is found at once without heartbeats
 * (its kernel closes the connection); the timeout only bounds how long a *silent* peer
 * (hung, frozen, host or link gone) goes unnoticed. 100 ms was tried first: on a 2-core
 * host at load 11-13 a live peer's event loop went unscheduled that long twice in a
 * torture run (both sides then served, without a lease). Ten periods of 50 ms stay far above
 * epoch pauses, GC and scheduling delays and still beat TCP's minutes by far; a 44-byte
 * frame every 50 ms (none while other frames flow) costs nothing. Tighter settings
 * (e.g. -ft-heartbeat 10ms,timeout=100ms) suit quiet hosts.
 */
export const DEFAULT_HEARTBEAT: Readonly<HeartbeatSettings> = Object.freeze({ periodMs: 50, timeoutMs: 500 });

/** Bounds the CLI and the monitor accept. */
export const MIN_HEARTBEAT_PERIOD_MS = 1;
export const MAX_HEARTBEAT_PERIOD_MS = 10_000;
export const MAX_HEARTBEAT_TIMEOUT_MS = 600_000;
/** A timeout must cover at least this many periods: one late heartbeat is not a loss. */
export const MIN_TIMEOUT_PERIODS = 2;

/** Why settings are refused, or undefined when they are fine. */
export function heartbeatProblem(s: HeartbeatSettings): string | undefined {
  const { periodMs: p, timeoutMs: t } = s;
  if (!Number.isFinite(p) || p < MIN_HEARTBEAT_PERIOD_MS || p > MAX_HEARTBEAT_PERIOD_MS) {
    return `the heartbeat period must be ${MIN_HEARTBEAT_PERIOD_MS} ms to ${MAX_HEARTBEAT_PERIOD_MS / 1000} s (got ${p} ms)`;
  }
  if (!Number.isFinite(t) || t > MAX_HEARTBEAT_TIMEOUT_MS) return `the heartbeat timeout must be at most ${MAX_HEARTBEAT_TIMEOUT_MS / 1000} s (got ${t} ms)`;
  if (t < MIN_TIMEOUT_PERIODS * p) return `the heartbeat timeout (${t} ms) must be at least ${MIN_TIMEOUT_PERIODS} periods (${MIN_TIMEOUT_PERIODS * p} ms): one late heartbeat is not a lost peer`;
  return undefined;
}

/** Shared with `info ft`: the settings (read live, so the monitor can change them) and the last sign of life. */
export interface Liveness {
  heartbeat: HeartbeatSettings;
  /** performance.now() when the peer's last bytes arrived. */
  lastHeardAt?: number;
}

export function newLiveness(s: HeartbeatSettings = DEFAULT_HEARTBEAT): Liveness {
  return { heartbeat: { ...s } };
}

/** Late by more than this, the check says this side's own event loop was stalled. */
export function stallThresholdMs(s: HeartbeatSettings): number {
  return s.periodMs + s.timeoutMs / 2;
}

export interface PeerWatchHooks {
  /** Every period: send a HEARTBEAT if this side has nothing else going out. */
  beat(): void;
  /** The peer is lost: `reason` is one line. Called at most once; the watch has stopped. */
  silent(reason: string): void;
}

export class PeerWatch {
  /** Silence is measured from here: the last bytes, the start of a wait or a stall of our own. */
  private since = performance.now();
  private waiting = false;
  private lastTick = performance.now();
  private timer?: NodeJS.Timeout;
  private running = false;
  private confirming = false;
  /** This side's own stalls seen (for tests and diagnosis). */
  stalls = 0;

  constructor(private readonly live: Liveness, private readonly peer: string) {}

  private hooks?: PeerWatchHooks;

  start(hooks: PeerWatchHooks): void {
    if (this.running) return;
    this.hooks = hooks;
    this.running = true;
    this.lastTick = this.since = performance.now();
    this.schedule();
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
  }

  /** Bytes from the peer arrived. */
  heard(): void {
    const now = performance.now();
    this.since = now;
    this.live.lastHeardAt = now;
  }

  /** The reader now waits for (true) or stopped waiting for (false) the peer's bytes. */
  setWaiting(waiting: boolean): void {
    if (waiting && !this.waiting) this.since = Math.max(this.since, performance.now());
    this.waiting = waiting;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(() => this.tick(), this.live.heartbeat.periodMs);
    // The socket keeps the process alive while the channel is up; this timer alone must not.
    this.timer.unref();
  }

  private tick(): void {
    if (!this.running) return;
    const now = performance.now();
    const late = now - this.lastTick;
    this.lastTick = now;
    const s = this.live.heartbeat;
    if (late > stallThresholdMs(s)) {
      // Our own loop did not run: we could neither read nor send. Judge the peer from now.
      this.stalls++;
      this.since = now;
    } else if (this.waiting && now - this.since >= s.timeoutMs && !this.confirming) {
      this.confirming = true;
      setImmediate(() => this.confirm());
    }
    this.hooks!.beat();
    this.schedule();
  }

  /** After the I/O poll: bytes that were waiting in the kernel have been read by now. */
  private confirm(): void {
    this.confirming = false;
    if (!this.running || !this.waiting) return;
    const timeoutMs = this.live.heartbeat.timeoutMs;
    if (performance.now() - this.since < timeoutMs) return;
    this.stop();
    this.hooks!.silent(`no heartbeat from the ${this.peer} for ${formatMs(timeoutMs)}`);
  }
}

export function formatMs(ms: number): string {
  return Number.isInteger(ms) ? `${ms} ms` : `${Number(ms.toFixed(3))} ms`;
}
