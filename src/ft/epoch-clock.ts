/**
 * When the primary's next epoch boundary is due: after the epoch length, or earlier once
 * the running epoch's dirty set reaches the watermark. The pause copies every dirty page
 * (primary.ts), so its length grows with the dirty set; a guest that dirties memory fast
 * would otherwise make one long pause per epoch. Ending the epoch early keeps each pause
 * (and each epoch on the wire) bounded instead — no page is ever dropped or deferred, the
 * epoch simply ends sooner (the original Cuju silently lost pages past 10,000 per epoch).
 *
 * The dirty count is polled (a KVM_GET_DIRTY_LOG into a scratch bitmap and a popcount,
 * tens of µs for 128 MiB) a few times per epoch, so an epoch ends within one poll interval
 * of reaching the watermark; a tracker that cannot peek (legacy dirty log) gets time only.
 */

/** Polls per epoch while a watermark is set; never more often than every MIN_POLL_MS. */
const POLLS_PER_EPOCH = 5;
const MIN_POLL_MS = 1;

export interface EpochClockOptions {
  epochUs: () => number;
  /** Pages; 0 = no watermark. */
  watermarkPages: () => number;
  /** Dirty pages of the running epoch so far, or undefined when unknown. */
  peekDirty: () => number | undefined;
  /** The boundary is due; `early` when the watermark ended the epoch. */
  onDue: (early: boolean) => void;
}

export class EpochClock {
  /** Ends the epoch on time. */
  private epochTimer?: NodeJS.Timeout;
  /** Polls the dirty count while a watermark is set. */
  private pollTimer?: NodeJS.Timeout;

  constructor(private readonly opts: EpochClockOptions) {}

  /**
   * Starts timing the next epoch (call after each boundary). Two timers and no clock
   * reads: one for the epoch's end, one polling the watermark. Never due synchronously:
   * a boundary that could not be taken (too many epochs in flight) re-arms at once, and
   * must not spin on a dirty set still over the watermark.
   */
  arm(): void {
    this.cancel();
    const epochMs = Math.max(1, Math.round(this.opts.epochUs() / 1000));
    this.epochTimer = setTimeout(() => this.due(false), epochMs);
    if (this.opts.watermarkPages() > 0) this.schedulePoll(Math.max(MIN_POLL_MS, Math.round(epochMs / POLLS_PER_EPOCH)));
  }

  cancel(): void {
    clearTimeout(this.epochTimer);
    clearTimeout(this.pollTimer);
    this.epochTimer = undefined;
    this.pollTimer = undefined;
  }

  private schedulePoll(ms: number): void {
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      const watermark = this.opts.watermarkPages();
      if (watermark <= 0) return;
      const dirty = this.opts.peekDirty();
      if (dirty === undefined) return; // cannot tell: the epoch timer alone decides
      if (dirty >= watermark) this.due(true);
      else this.schedulePoll(ms);
    }, ms);
  }

  private due(early: boolean): void {
    this.cancel();
    this.opts.onDue(early);
  }
}
