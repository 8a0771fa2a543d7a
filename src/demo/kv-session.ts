/**
 * The demo's client of the guest service (guest/workloads/cuju-kv.c): ONE TCP connection
 * for the whole demo, one request at a time, C, C, W n, ... with a short gap between
 * requests, every answer checked against what was already acknowledged (the same rules
 * as the failure tests' client, src/guest/harness/kv-guest.ts describes the service):
 *   - "C k": k is the last acknowledged counter + 1;
 *   - "W n r": the log holds exactly r = n records after the n-th acknowledged write.
 * An answer from a replica that lost acknowledged state breaks one of them. finish()
 * asks the service to read its log back from disk ("R") and checks every record.
 */
import { connect, type Socket } from 'node:net';

export interface KvSessionStats {
  answers: number;
  counter: number;
  /** Acknowledged (fsync'ed) records. */
  written: number;
  lastRttMs: number;
  maxRttMs: number;
  /** performance.now() of the last answer. */
  lastAnswerAt: number;
  /** The first broken rule (lost or repeated state), or null. */
  bad: string | null;
  /** Why the connection ended, or null while it is open. */
  closed: string | null;
}

export class KvSession {
  readonly stats: KvSessionStats = { answers: 0, counter: 0, written: 0, lastRttMs: 0, maxRttMs: 0, lastAnswerAt: 0, bad: null, closed: null };
  private readonly socket: Socket;
  private buffer = '';
  private pending: string | null = null;
  private sentAt = 0;
  private step = 0;
  private stopping: ((line: string | null) => void) | null = null;
  private timer: NodeJS.Timeout | undefined;

  /** Connects and starts the request loop; resolves once connected. */
  static open(host: string, port: number, gapMs: number): Promise<KvSession> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, host);
      socket.once('connect', () => {
        socket.removeListener('error', reject);
        resolve(new KvSession(socket, gapMs));
      });
      socket.once('error', reject);
    });
  }

  private constructor(socket: Socket, private readonly gapMs: number) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => this.onData(d));
    socket.on('error', (e: NodeJS.ErrnoException) => this.onClosed(e.code ?? e.message));
    socket.on('close', () => this.onClosed('closed by the guest'));
    this.next();
  }

  /** Stops the loop after the request in flight, reads the log back ("R ..."), checks it and closes. */
  async finish(timeoutMs = 30_000): Promise<{ readBack: string | null; ok: boolean }> {
    clearTimeout(this.timer);
    const line = await new Promise<string | null>((resolve) => {
      this.stopping = resolve;
      if (this.stats.closed) resolve(null);
      else if (this.pending === null) this.send('R');
      setTimeout(() => resolve(null), timeoutMs).unref();
    });
    this.socket.end();
    const expected = `R ${this.stats.written} ${this.stats.written} 0`;
    if (line !== null && line !== expected) this.stats.bad ??= `read back ${JSON.stringify(line)}, expected ${JSON.stringify(expected)}`;
    return { readBack: line, ok: line === expected && this.stats.bad === null };
  }

  private next(): void {
    if (this.stopping) return this.send('R');
    const kind = this.step++ % 3 === 2 ? 'W' : 'C';
    this.send(kind === 'W' ? `W ${this.stats.written + 1}` : 'C');
  }

  private send(request: string): void {
    this.pending = request;
    this.sentAt = performance.now();
    this.socket.write(`${request}\n`);
  }

  private onData(text: string): void {
    this.buffer += text;
    for (let i = this.buffer.indexOf('\n'); i >= 0; i = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, i);
      this.buffer = this.buffer.slice(i + 1);
      this.onAnswer(line);
    }
  }

  private onAnswer(line: string): void {
    const request = this.pending;
    this.pending = null;
    const now = performance.now();
    const s = this.stats;
    if (request === null) {
      s.bad ??= `an answer nobody asked for: ${JSON.stringify(line)}`;
      return;
    }
    if (request === 'R') {
      this.stopping?.(line);
      return;
    }
    s.lastRttMs = now - this.sentAt;
    s.maxRttMs = Math.max(s.maxRttMs, s.lastRttMs);
    s.lastAnswerAt = now;
    s.answers++;
    const f = line.split(' ');
    if (request === 'C') {
      if (f[0] === 'C' && Number(f[1]) === s.counter + 1) s.counter++;
      else s.bad ??= `after counter ${s.counter} the guest answered ${JSON.stringify(line)}`;
    } else {
      const n = Number(request.slice(2));
      if (f[0] === 'W' && Number(f[1]) === n && Number(f[2]) === n) s.written = n;
      else s.bad ??= `write ${n} was answered ${JSON.stringify(line)} (the log should hold exactly ${n} records)`;
    }
    if (this.stopping) this.send('R');
    else this.timer = setTimeout(() => this.next(), this.gapMs);
  }

  private onClosed(why: string): void {
    this.stats.closed ??= why;
    this.stopping?.(null);
  }
}
