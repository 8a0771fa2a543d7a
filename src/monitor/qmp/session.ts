/**
 * One QMP client: greeting, capability negotiation, requests answered in
 * order (input paused while one runs; `exec-oob` requests for OOB-capable
 * commands jump the queue), events once in command mode, and disconnection
 * of a client that sends an endless incomplete request.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Session } from '../../chardev/session.js';
import type { VmControl } from '../../vm/control.js';
import type { HmpCommandTable } from '../hmp/registry.js';
import { CUJU_PACKAGE, QEMU_VERSION } from '../version.js';
import { QMP_CAPABILITIES } from './builtin-commands.js';
import {
  errorResponse,
  isQmpRequest,
  parseQmpRequest,
  resolveQmpCommand,
  runQmpCommand,
  type QmpRequest,
  type QmpResponse,
} from './dispatch.js';
import { formatQmpJson } from './json-format.js';
import { DEFAULT_MAX_PENDING, QmpJsonStreamer } from './json-streamer.js';
import type { QmpCommandTable, QmpContext, QmpSessionState } from './registry.js';

export const QMP_GREETING = {
  QMP: {
    version: {
      qemu: { micro: QEMU_VERSION.micro, minor: QEMU_VERSION.minor, major: QEMU_VERSION.major },
      package: CUJU_PACKAGE,
    },
    capabilities: [...QMP_CAPABILITIES],
  },
};

export interface QmpSessionOptions {
  vm: VmControl;
  commands: QmpCommandTable;
  hmpCommands: HmpCommandTable;
  pretty?: boolean;
  /** Largest incomplete request kept before the client is disconnected. */
  maxPendingBytes?: number;
}

/** Work queued in arrival order: a request, or a parse error to answer at its turn. */
type QueueItem = { request: QmpRequest } | { response: QmpResponse };

export class QmpSession {
  readonly state: QmpSessionState = { negotiated: false, oobEnabled: false };
  private readonly decoder = new StringDecoder('utf8');
  private readonly streamer: QmpJsonStreamer;
  private readonly queue: QueueItem[] = [];
  private busy = false;
  /** The client sent its last byte: answer what it asked, then hang up. */
  private inputEnded = false;

  constructor(
    readonly session: Session,
    private readonly options: QmpSessionOptions,
  ) {
    this.streamer = new QmpJsonStreamer(options.maxPendingBytes ?? DEFAULT_MAX_PENDING);
    this.send(QMP_GREETING);
    session.on('data', (chunk: Buffer) => this.receive(chunk));
    session.on('end', () => {
      this.inputEnded = true;
      if (!this.busy) session.close();
    });
  }

  /** Deliver an event (already built) if this client is in command mode. */
  sendEvent(event: object): void {
    if (this.state.negotiated) this.send(event);
  }

  private send(message: object): void {
    this.session.write(`${formatQmpJson(message, this.options.pretty)}\r\n`);
  }

  private receive(chunk: Buffer): void {
    if (this.session.closed) return;
    for (const item of this.streamer.feed(this.decoder.write(chunk))) {
      if (item.kind === 'overflow') {
        this.send(errorResponse('GenericError', item.desc));
        this.queue.length = 0;
        void this.session.drain().then(() => this.session.close());
        return;
      }
      if (item.kind === 'error') {
        this.queue.push({ response: errorResponse('GenericError', item.desc) });
        continue;
      }
      const parsed = parseQmpRequest(item.value, this.state);
      if (!isQmpRequest(parsed)) {
        this.queue.push({ response: parsed });
      } else if (parsed.oob && this.state.oobEnabled) {
        void this.execute(parsed); // out of band: not behind queued requests
      } else {
        this.queue.push({ request: parsed });
      }
    }
    void this.runQueue();
  }

  private async runQueue(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.session.pause();
    while (this.queue.length > 0 && !this.session.closed) {
      const item = this.queue.shift()!;
      if ('response' in item) this.send(item.response);
      else await this.execute(item.request);
    }
    this.busy = false;
    if (this.inputEnded) this.session.close();
    else this.session.resume();
  }

  private async execute(request: QmpRequest): Promise<void> {
    const afterReply: Array<() => Promise<void> | void> = [];
    const ctx: QmpContext = {
      vm: this.options.vm,
      state: this.state,
      commands: this.options.commands,
      hmpCommands: this.options.hmpCommands,
      afterReply: (action) => afterReply.push(action),
    };
    const command = resolveQmpCommand(request, ctx);
    const response = 'handler' in command ? await runQmpCommand(command, request, ctx) : command;
    this.send(response);
    if (afterReply.length === 0) return;
    await this.session.drain();
    for (const action of afterReply) {
      try {
        await action();
      } catch {
        // The reply is already out; a failing follow-up (e.g. quit) has no one to tell.
      }
    }
  }
}
