/**
 * One connected client of a character device: a byte duplex. A monitor runs
 * one protocol session per Session, so several clients of one monitor socket
 * never see each other's input or answers.
 */
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';

export interface Session extends EventEmitter {
  /** Unique within the process; handy in logs. */
  readonly id: number;
  /** e.g. `unix:/run/vm1.monitor client #3`. */
  readonly description: string;
  /**
   * True when the far side already echoes what the user types (a terminal in
   * cooked mode on stdio), so a text monitor must not echo input a second time.
   */
  readonly echoesInput: boolean;
  readonly closed: boolean;
  /** Queue bytes for the client; silently dropped once the client is gone. */
  write(data: Uint8Array | string): void;
  /** Resolves once everything written so far has left the process (or the client is gone). */
  drain(): Promise<void>;
  /** Stop delivering 'data' (backpressure while a command runs). */
  pause(): void;
  resume(): void;
  /** Disconnect this client; emits 'close' once. */
  close(): void;

  on(event: 'data', listener: (chunk: Buffer) => void): this;
  /**
   * The client has sent everything (half-close, e.g. `socat` after stdin EOF)
   * but still reads: the owner finishes the commands it has and then calls
   * close(). Without an 'end' listener the session closes at once.
   */
  on(event: 'end', listener: () => void): this;
  on(event: 'close', listener: () => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

let nextSessionId = 1;

export interface StreamSessionOptions {
  description: string;
  echoesInput?: boolean;
  /**
   * Whether close() may destroy the streams. False for process stdin/stdout,
   * which outlive the monitor session.
   */
  ownsStreams: boolean;
}

/** A Session over a Node stream pair (a socket is both). */
export class StreamSession extends EventEmitter implements Session {
  readonly id = nextSessionId++;
  readonly description: string;
  readonly echoesInput: boolean;
  private isClosed = false;
  /** A socket is its own input and output. */
  private readonly sameStream: boolean;
  private readonly onData = (chunk: Buffer | string): void => {
    this.emit('data', typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  };
  // A client vanishing (EPIPE, ECONNRESET) ends its session; it is never an error of the VMM.
  private readonly onGone = (): void => this.close();
  private readonly onEnd = (): void => {
    if (this.listenerCount('end') > 0) this.emit('end');
    else this.close();
  };

  constructor(
    private readonly input: Readable,
    private readonly output: Writable,
    private readonly options: StreamSessionOptions,
  ) {
    super();
    this.description = options.description;
    this.echoesInput = options.echoesInput ?? false;
    this.sameStream = (input as unknown) === (output as unknown);
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.on('close', this.onGone);
    input.on('error', this.onGone);
    if (!this.sameStream) output.on('error', this.onGone);
  }

  get closed(): boolean {
    return this.isClosed;
  }

  write(data: Uint8Array | string): void {
    if (this.isClosed || this.output.destroyed || this.output.writableEnded) return;
    this.output.write(data);
  }

  drain(): Promise<void> {
    if (this.isClosed || this.output.destroyed || this.output.writableEnded) return Promise.resolve();
    return new Promise((resolve) => {
      // Writes complete in order, so the callback of an empty write runs after all earlier ones.
      this.output.write('', () => resolve());
      this.once('close', resolve);
    });
  }

  pause(): void {
    if (!this.isClosed) this.input.pause();
  }

  resume(): void {
    if (!this.isClosed) this.input.resume();
  }

  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.off('close', this.onGone);
    if (this.options.ownsStreams) {
      // end() first so queued answers still reach the client, then make sure it goes away.
      this.output.end();
      this.input.destroy();
      if (!this.sameStream) this.output.destroy();
    } else {
      this.input.pause();
    }
    // Keep swallowing late stream errors: the session is gone, they matter to no one.
    this.emit('close');
  }
}
