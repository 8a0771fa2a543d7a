/** A client for monitor sockets (tests, benchmarks, the guest harness): collects everything received, waits for patterns. */
import * as net from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class SocketClient {
  received = '';
  readonly ended: Promise<void>;
  private waiters: Array<() => void> = [];
  /** The connection ended: what was not received by then never will be. */
  private closed = false;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.received += text;
      for (const wake of this.waiters.splice(0)) wake();
    });
    this.ended = new Promise((resolve) => socket.on('close', () => {
      this.closed = true;
      for (const wake of this.waiters.splice(0)) wake();
      resolve();
    }));
    socket.on('error', () => undefined);
  }

  static connect(path: string): Promise<SocketClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(path);
      socket.once('connect', () => resolve(new SocketClient(socket)));
      socket.once('error', reject);
    });
  }

  write(text: string | Uint8Array): void {
    this.socket.write(text);
  }

  /** Resolves with everything received once `received` ends with / contains `pattern`. */
  async waitFor(pattern: string | RegExp, timeoutMs = 3000): Promise<string> {
    const matches = (): boolean =>
      typeof pattern === 'string' ? this.received.includes(pattern) : pattern.test(this.received);
    const deadline = Date.now() + timeoutMs;
    while (!matches()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${pattern}; received: ${JSON.stringify(this.received)}`);
      // A monitor that died (or hung up) fails the wait at once, not after the timeout.
      if (this.closed) throw new Error(`the connection closed while waiting for ${pattern}; received: ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received;
  }

  /** Take (and forget) what was received so far. */
  take(): string {
    const text = this.received;
    this.received = '';
    return text;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A JSON-lines view of a SocketClient for QMP. */
export class QmpClient {
  /** Events that arrived while execute() waited for its answer. */
  readonly events: any[] = [];

  private constructor(readonly client: SocketClient) {}

  static async connect(path: string): Promise<QmpClient> {
    return new QmpClient(await SocketClient.connect(path));
  }

  /** The next complete message (QMP lines end in \r\n). */
  async next(timeoutMs = 3000): Promise<any> {
    await this.client.waitFor('\r\n', timeoutMs);
    const end = this.client.received.indexOf('\r\n');
    const line = this.client.received.slice(0, end);
    this.client.received = this.client.received.slice(end + 2);
    return JSON.parse(line);
  }

  send(message: unknown): void {
    this.client.write(JSON.stringify(message) + '\n');
  }

  async execute(command: string, args?: object, id?: unknown): Promise<any> {
    const message: Record<string, unknown> = { execute: command };
    if (args) message.arguments = args;
    if (id !== undefined) message.id = id;
    this.send(message);
    return this.answer();
  }

  /** The next non-event message; events seen on the way are kept in `events`. */
  async answer(): Promise<any> {
    for (;;) {
      const message = await this.next();
      if (!('event' in message)) return message;
      this.events.push(message);
    }
  }

  /** The next event, whether already seen by answer() or still to come. */
  async event(): Promise<any> {
    return this.events.shift() ?? this.next();
  }

  /** Greeting read and capabilities negotiated. */
  static async negotiated(path: string): Promise<QmpClient> {
    const client = await QmpClient.connect(path);
    await client.next();
    const answer = await client.execute('qmp_capabilities');
    if (!('return' in answer)) throw new Error(`negotiation failed: ${JSON.stringify(answer)}`);
    return client;
  }

  close(): void {
    this.client.close();
  }
}

export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-mon-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
