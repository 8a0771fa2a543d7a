/**
 * `-chardev pty` / `-monitor pty`: a pseudo-terminal whose slave side
 * (/dev/pts/N) a user opens with screen/minicom. Node cannot allocate a pty by
 * itself (posix_openpt needs ioctls), so the allocator is plugged in by whoever
 * has the native addon: open /dev/ptmx, ioctl TIOCSPTLCK(0), ioctl TIOCGPTN
 * (test/chardev/pty.test.ts has a working one on the addon's open/ioctl).
 */
import { EventEmitter } from 'node:events';
import * as tty from 'node:tty';
import { ChardevError } from './errors.js';
import type { ChardevEndpoint } from './endpoint.js';
import { StreamSession, type Session } from './session.js';

export interface PseudoTerminal {
  /** Master side, opened O_RDWR; the endpoint takes ownership and closes it. */
  masterFd: number;
  /** e.g. /dev/pts/3, unlocked and ready to be opened by a user. */
  slavePath: string;
}

export interface PtyAllocator {
  openpty(): PseudoTerminal;
}

let installedAllocator: PtyAllocator | undefined;

/** Install the host's pty allocator (once, at startup); until then pty chardevs are refused. */
export function setPtyAllocator(allocator: PtyAllocator | undefined): void {
  installedAllocator = allocator;
}

export class PtyEndpoint extends EventEmitter implements ChardevEndpoint {
  readonly address: string;
  private session: Session | undefined;
  private readonly stream: tty.ReadStream;

  constructor(readonly pty: PseudoTerminal) {
    super();
    this.address = `pty:${pty.slavePath}`;
    // One tty handle both reads and writes the master, so the fd has a single owner
    // (two handles would each close it). Raw mode on the master configures the slave:
    // no echo of our own output back to us, no line buffering.
    this.stream = new tty.ReadStream(pty.masterFd);
    this.stream.setRawMode(true);
    // With nobody on the slave side reads fail with EIO; that is "no client", not a fault.
    this.stream.on('error', () => undefined);
  }

  static open(allocator: PtyAllocator | undefined = installedAllocator): PtyEndpoint {
    if (!allocator) {
      throw new ChardevError(
        'pty character devices are not available in this build (no pseudo-terminal allocator): ' +
          'use a socket instead, e.g. -chardev socket,id=mon0,path=/tmp/vm.monitor,server=on,wait=off',
      );
    }
    return new PtyEndpoint(allocator.openpty());
  }

  start(): void {
    if (this.session) return;
    this.session = new StreamSession(this.stream, this.stream, { description: this.address, ownsStreams: true });
    this.emit('session', this.session);
  }

  sessions(): readonly Session[] {
    return this.session && !this.session.closed ? [this.session] : [];
  }

  async close(): Promise<void> {
    if (this.session) this.session.close();
    else this.stream.destroy();
  }
}
