/**
 * `-monitor stdio` / `-qmp stdio`: one session over the process's stdin and
 * stdout. The terminal is left in cooked mode, so on a TTY the terminal driver
 * echoes and edits lines and the monitor must not echo.
 */
import { EventEmitter } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import type { ChardevEndpoint } from './endpoint.js';
import { StreamSession, type Session } from './session.js';

export class StdioEndpoint extends EventEmitter implements ChardevEndpoint {
  readonly address = 'stdio';
  private session: Session | undefined;

  constructor(
    private readonly input: Readable & { isTTY?: boolean } = process.stdin,
    private readonly output: Writable = process.stdout,
  ) {
    super();
  }

  start(): void {
    if (this.session) return;
    const session = new StreamSession(this.input, this.output, {
      description: 'stdio',
      echoesInput: this.input.isTTY === true,
      ownsStreams: false,
    });
    this.session = session;
    session.on('close', () => {
      if (this.session === session) this.session = undefined;
    });
    this.emit('session', session);
  }

  sessions(): readonly Session[] {
    return this.session ? [this.session] : [];
  }

  async close(): Promise<void> {
    this.session?.close();
  }
}
