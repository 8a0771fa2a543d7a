/**
 * An opened character device as a monitor sees it: a source of client
 * sessions. A socket server yields one Session per accepted connection; stdio
 * and pty yield exactly one.
 */
import type { EventEmitter } from 'node:events';
import type { Session } from './session.js';

export interface ChardevEndpoint extends EventEmitter {
  /** Where clients reach it, e.g. `unix:/run/vm1.monitor`, `tcp:127.0.0.1:4444`, `stdio`. */
  readonly address: string;
  /** Sessions connected right now. */
  sessions(): readonly Session[];
  /**
   * Begin delivering sessions. Single-client endpoints (stdio, pty) open their
   * session here, so the owner has its 'session' listener in place first.
   */
  start(): void;
  /** Disconnect every client, stop listening, remove the socket file if any. */
  close(): Promise<void>;

  on(event: 'session', listener: (session: Session) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}
