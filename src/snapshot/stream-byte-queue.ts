/**
 * Exact-length reads over a one-pass byte stream (a socket, a pipe). Chunks are pulled
 * from the stream's async iterator only when a read needs more bytes, so a fast sender
 * is held back by the stream's own backpressure instead of piling up here. Truncation,
 * stream errors and an abort are each one SnapshotError naming how far the stream got.
 */
import { SnapshotError } from './errors.js';
import type { ExactReader } from './snapshot-parser.js';

const EMPTY = new Uint8Array(0);
/** Below this average piece size, pieces() joins the bytes instead. */
const MIN_PIECE_SIZE = 4096;

export class StreamByteQueue implements ExactReader {
  /** Bytes handed out by exact(). */
  offset = 0;
  /** Chunks not yet fully handed out start at chunks[first] (an index, not shift(): O(1)). */
  private chunks: Uint8Array[] = [];
  private first = 0;
  /** Bytes of chunks[first] already handed out. */
  private head = 0;
  private buffered = 0;
  private ended = false;
  /** Rejects the read waiting when the signal aborts (one callback per read: see pull()). */
  private rejectWaiting?: (e: Error) => void;
  private onAbort?: () => void;

  /**
   * `name` names the stream in messages ('migration stream'); `signal` makes every
   * pending and later read reject with a SnapshotError.
   */
  constructor(private readonly chunkSource: AsyncIterator<unknown>, readonly name: string, private readonly signal?: AbortSignal) {
    if (signal) {
      this.onAbort = () => this.rejectWaiting?.(this.abortError());
      signal.addEventListener('abort', this.onAbort, { once: true });
    }
  }

  /** Stops listening to the abort signal. */
  dispose(): void {
    if (this.onAbort) this.signal!.removeEventListener('abort', this.onAbort);
  }

  private abortError(): SnapshotError {
    const reason = this.signal?.reason;
    const why = reason instanceof Error ? reason.message : reason === undefined ? 'aborted' : String(reason);
    return new SnapshotError(`restoring from ${this.name} was aborted after ${this.offset + this.buffered} bytes (${why})`);
  }

  /** One more chunk into the queue; false at the end of the stream. */
  private async pull(): Promise<boolean> {
    if (this.ended) return false;
    if (this.signal?.aborted) throw this.abortError();
    let result: IteratorResult<unknown>;
    try {
      const next = this.chunkSource.next();
      // Not Promise.race against one long-lived "aborted" promise: every race would leave a
      // reaction on it holding that chunk until the stream ends (the whole stream, in memory).
      result = await (this.signal ? new Promise<IteratorResult<unknown>>((resolve, reject) => {
        this.rejectWaiting = reject;
        next.then(resolve, reject);
      }).finally(() => { this.rejectWaiting = undefined; }) : next);
    } catch (e) {
      if (e instanceof SnapshotError) throw e;
      throw new SnapshotError(`reading ${this.name} failed after ${this.offset + this.buffered} bytes: ${(e as Error)?.message ?? String(e)}`);
    }
    if (result.done) {
      this.ended = true;
      return false;
    }
    const chunk = result.value;
    if (!(chunk instanceof Uint8Array)) {
      throw new SnapshotError(`${this.name} yielded ${typeof chunk === 'string' ? 'text' : typeof chunk}, not bytes (do not set an encoding on the socket)`);
    }
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    return true;
  }

  /** Exactly `length` bytes: a view into the stream's chunk when one holds them all, else a copy. */
  async exact(length: number, what: string): Promise<Uint8Array> {
    await this.fill(length, what);
    return length === 0 ? EMPTY : this.take(length, 1)[0];
  }

  /**
   * Exactly `length` bytes as views into the stream's chunks, sparing the copy that joins
   * them (a 1 MiB memory section arrives as ~16 socket reads). Tiny chunks are joined
   * after all, so a trickling stream does not turn into a million pieces.
   */
  async pieces(length: number, what: string): Promise<Uint8Array[]> {
    await this.fill(length, what);
    return length === 0 ? [] : this.take(length, 2 + Math.floor(length / MIN_PIECE_SIZE));
  }

  private async fill(length: number, what: string): Promise<void> {
    while (this.buffered < length) {
      if (!(await this.pull())) {
        throw new SnapshotError(`${this.name} ended early: truncated after ${this.offset + this.buffered} bytes, inside ${what}`);
      }
    }
  }

  /** Hands out `length` buffered bytes: up to `maxPieces` views of the chunks, or one joined copy. */
  private take(length: number, maxPieces: number): Uint8Array[] {
    this.offset += length;
    this.buffered -= length;
    const views: Uint8Array[] = [];
    let joined: Buffer | undefined;
    for (let done = 0; done < length;) {
      const chunk = this.chunks[this.first];
      const n = Math.min(chunk.length - this.head, length - done);
      const view = chunk.subarray(this.head, this.head + n);
      if (!joined && views.length === maxPieces) {
        joined = Buffer.allocUnsafe(length);
        views.reduce((at, v) => { joined!.set(v, at); return at + v.length; }, 0);
      }
      if (joined) joined.set(view, done);
      else views.push(view);
      done += n;
      this.head += n;
      if (this.head === chunk.length) {
        // Let go of it now, not at the next compaction: a chunk still referenced when a
        // scavenge runs is promoted to V8's old space, and its memory then waits for a
        // full GC (up to 64 chunks, 4 MiB of a backup's epochs, were kept so).
        this.chunks[this.first] = EMPTY;
        this.first++;
        this.head = 0;
      }
    }
    // Drop consumed chunks now and then (not per chunk: that would copy the array each time).
    if (this.first === this.chunks.length || this.first >= 64) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
    return joined ? [joined] : views;
  }

  /** True when the stream has ended with nothing left over. */
  async atEnd(): Promise<boolean> {
    while (this.buffered === 0) {
      if (!(await this.pull())) return true;
    }
    return false;
  }

  /** Bytes pulled from the stream but not handed out (a sender's next message); empties the queue. */
  takeBuffered(): Uint8Array {
    const left = this.chunks.slice(this.first);
    const rest = left.length === 0 ? EMPTY : Buffer.concat(left.map((c, i) => (i === 0 ? c.subarray(this.head) : c)));
    this.chunks = [];
    this.first = 0;
    this.head = 0;
    this.buffered = 0;
    return rest;
  }
}
