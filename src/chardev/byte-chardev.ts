/**
 * A plain byte stream over an endpoint, for devices (a serial port) rather
 * than monitors: what the device writes goes to every connected client, what
 * any client types comes back as 'data'. Output while no client is connected is
 * dropped, as QEMU's socket chardev does with wait=off.
 */
import { EventEmitter } from 'node:events';
import type { ChardevEndpoint } from './endpoint.js';
import type { Session } from './session.js';

export interface Chardev extends EventEmitter {
  write(bytes: Uint8Array): void;
  close(): Promise<void>;
  on(event: 'data', listener: (bytes: Buffer) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
}

export class BroadcastChardev extends EventEmitter implements Chardev {
  constructor(private readonly endpoint: ChardevEndpoint) {
    super();
    endpoint.on('session', (session: Session) => {
      session.on('data', (bytes: Buffer) => this.emit('data', bytes));
    });
    endpoint.start();
  }

  write(bytes: Uint8Array): void {
    for (const session of this.endpoint.sessions()) session.write(bytes);
  }

  close(): Promise<void> {
    return this.endpoint.close();
  }
}
