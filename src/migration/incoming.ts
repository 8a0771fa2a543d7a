/**
 * The destination of `-incoming`: from a snapshot file, or over TCP from a live
 * migration (wire.ts). Over TCP the VM runs only after the whole stream arrived and
 * verified and the source said `go`; a failed attempt leaves nothing running and the
 * listener waits for the next one.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { restoreSnapshotFile } from '../snapshot/machine-snapshot.js';
import { restoreFromStream } from '../snapshot/stream-restore.js';
import { MigrationProtocolError } from './errors.js';
import { LineChannel } from './line-channel.js';
import { hashDeviceStates, hashRam } from './verify.js';
import { COMMAND_REFUSED, commandMacMatches, macTee, MigrationAuthError, StreamMacReader } from './auth.js';
import { authenticateSource } from './auth-handshake.js';
import { decodeHello, encodeLine, HELLO_SIZE, parseCommand } from './wire.js';
import { receiveDiskCopy } from '../ft/disk-sync/receiver.js';
import { socketExactReader } from '../ft/disk-sync/socket-reader.js';
import type { FtDisk } from '../ft/disk-sync/disks.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import type { RestoreTarget } from '../snapshot/restore.js';
import type { DeviceDescription } from '../snapshot/machine-description.js';
import type { SnapshotContents } from '../snapshot/snapshot-parser.js';
import type { ExpectedMachine } from '../snapshot/reader.js';

/** What the destination needs of a machine (Machine implements it). */
export interface IncomingMachine {
  startFromState(load: (target: RestoreTarget, expected: ExpectedMachine) => Promise<void>, paused?: boolean): Promise<void>;
  readonly memory: GuestMemory;
  deviceStates(): unknown[];
  /** The VM runs here now: let the network know (RARP, as QEMU does). */
  announceNetwork(): void;
}

export class IncomingListenError extends Error {
  override readonly name = 'IncomingListenError';
}

export async function incomingFromFile(machine: IncomingMachine, path: string, paused = false): Promise<void> {
  await machine.startFromState((target, expected) => restoreSnapshotFile(path, expected, target).then(() => {}), paused);
  machine.announceNetwork();
}

const HELLO_TIMEOUT_MS = 10_000;

/** Exactly `n` bytes from a socket, leaving the rest unread in it. */
function readExact(socket: Socket, n: number, timeoutMs: number, what = 'hello'): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (e?: Error, b?: Buffer) => {
      clearTimeout(timer);
      socket.off('readable', tryRead).off('end', onEnd).off('error', done);
      if (e) reject(e);
      else resolve(b!);
    };
    const onEnd = () => done(new MigrationProtocolError(`the source closed the connection before its ${what}`));
    const tryRead = () => {
      const b = socket.read(n) as Buffer | null;
      // Once the stream has ended, read() hands over what is left, however short.
      if (!b) return;
      if (b.length < n) onEnd();
      else done(undefined, b);
    };
    const timer = setTimeout(() => done(new MigrationProtocolError(`the source sent no ${what}`)), timeoutMs);
    socket.on('readable', tryRead).once('end', onEnd).once('error', done);
    tryRead();
  });
}

export interface IncomingFt {
  /** `sessionKey`: from the -ft-key handshake; the FT channel's frames are tagged with it. */
  runBackup(socket: Socket, rest: Uint8Array, target: RestoreTarget, expected: ExpectedMachine, initial: SnapshotContents, peer: string, sessionKey?: Uint8Array): Promise<void>;
  /** The primary stopped protecting: the backup's work is over. */
  onCancelled(reason: string): void;
  isCancel(e: Error): boolean;
  /**
   * This backup's disks, in block-device order: the primary's initial disk copy
   * (src/ft/disk-sync) writes the replicated ones. Absent: no disks.
   */
  disks?: readonly FtDisk[];
}

export interface IncomingTcpOptions {
  host: string;
  port: number;
  notice(line: string): void;
  /**
   * A source silent for this long is gone (a network partition sends no reset): the
   * attempt is given up so the listener can take the next one. Default IDLE_TIMEOUT_MS.
   */
  idleTimeoutMs?: number;
  /** `,ft_mode`: this VMM is a Cuju backup (src/ft). */
  ft?: IncomingFt;
  /** -ft-key's shared key: every source must prove it (auth.ts) before any state is taken. */
  key?: Buffer;
}

export const IDLE_TIMEOUT_MS = 60_000;

export interface IncomingListener {
  /** Resolves once a migration has started the VM here (the listener is closed then). */
  readonly completed: Promise<void>;
  close(): void;
}

/**
 * Listens (rejecting with IncomingListenError when the port can't be had), then runs
 * migration attempts one at a time until one has started the VM. A failed attempt
 * leaves nothing running; the next connection tries again.
 */
export async function listenForMigration(machine: IncomingMachine, opts: IncomingTcpOptions): Promise<IncomingListener> {
  const server = createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new IncomingListenError(e.code === 'EADDRINUSE'
      ? `-incoming tcp:${opts.host}:${opts.port}: port ${opts.port} is already in use (another cuju waiting there?): choose another port`
      : `-incoming tcp:${opts.host}:${opts.port}: cannot listen: ${e.message}`)));
    server.listen(opts.port, opts.host, () => resolve());
  });
  opts.notice(`waiting for an incoming migration on ${opts.host}:${opts.port}`);
  const completed = new Promise<void>((resolve) => {
    let busy = false;
    server.on('connection', (socket: Socket) => {
      if (busy) {
        socket.end(encodeLine({ type: 'error', message: 'another migration is already arriving here' }));
        return;
      }
      busy = true;
      void receive(machine, socket, opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS, opts.ft, opts.key).then(
        () => {
          closeServer(server);
          opts.notice('incoming migration completed: the VM runs here now');
          resolve();
        },
        (e: Error) => {
          busy = false;
          if (opts.ft?.isCancel(e)) {
            closeServer(server);
            opts.ft.onCancelled(e.message);
            return;
          }
          opts.notice(`incoming migration failed: ${e.message}; still waiting on ${opts.host}:${opts.port}`);
        },
      );
    });
  });
  return { completed, close: () => closeServer(server) };
}

function closeServer(server: Server): void {
  server.close();
}

async function receive(machine: IncomingMachine, socket: Socket, idleTimeoutMs: number, ft?: IncomingFt, key?: Buffer): Promise<void> {
  socket.setNoDelay(true);
  socket.setTimeout(idleTimeoutMs, () => socket.destroy(new MigrationProtocolError(`nothing heard from the source for ${idleTimeoutMs / 1000} s: giving up on this attempt`)));
  // A connection error reaches us through the read that is waiting (or no one cares any
  // more); as an 'error' event without a listener it would end this process.
  socket.on('error', () => {});
  let channel: LineChannel | undefined;
  try {
    const helloBytes = await readExact(socket, HELLO_SIZE, HELLO_TIMEOUT_MS);
    const hello = decodeHello(helloBytes);
    // -ft-key: the source proves the key (and we ours) before anything else is read.
    const session = await authenticateSource(socket, hello, helloBytes, key, (n, what) => readExact(socket, n, HELLO_TIMEOUT_MS, what));
    if (hello.ft && !ft) throw new MigrationProtocolError('this destination is not a fault-tolerance backup: start it with -incoming tcp:0:PORT,ft_mode');
    // The primary's replicated disks, copied into ours before the RAM (src/ft/disk-sync).
    // With -ft-key its bytes go into the stream MAC, checked with the go/ft command: a backup
    // never runs (or serves as a backup) from a disk copy it cannot prove is the primary's.
    const tee = session ? macTee(socketExactReader(socket), session) : undefined;
    if (hello.diskCopy) await receiveDiskCopy(tee?.read ?? socketExactReader(socket), ft?.disks ?? []);
    let tookOver = false;
    await machine.startFromState(async (target, expected) => {
      // Devices are restored only on 'go': a restored NIC starts receiving from its tap,
      // which would change guest RAM before the verify hash and before the VM is ours.
      const deferred: { ordinal: number; device: DeviceDescription; state: unknown }[] = [];
      const holding: RestoreTarget = { ...target, restoreDevice: (ordinal, device, state) => { deferred.push({ ordinal, device, state }); } };
      const macReader = session ? new StreamMacReader(socket, session, tee?.hmac) : undefined;
      const result = await restoreFromStream(macReader?.chunks() ?? socket, expected, holding, { trailing: 'allow' });
      const streamMac = macReader?.finish(result.rest);
      channel = new LineChannel(socket, result.rest);
      channel.send(encodeLine(hello.verify
        ? { type: 'loaded', ramHash: hashRam(machine.memory), deviceHash: hashDeviceStates(deferred.map((d) => d.state)) }
        : { type: 'loaded' }));
      // After 'ft' the binary FT channel follows at once: leave its bytes alone.
      if (hello.ft) channel.expectHandOver();
      const command = parseCommand(await channel.next());
      // Nothing the source says is acted on unless it proves the stream and the command are its own.
      if (session && !commandMacMatches(session, command, streamMac!)) throw new MigrationAuthError(COMMAND_REFUSED);
      if (command.type === 'abort') throw new MigrationProtocolError(`the source aborted the migration: ${command.reason}`);
      if (command.type === 'ft') {
        if (!ft || !hello.ft) throw new MigrationProtocolError('the source switched to fault tolerance without announcing it');
        // Protected: the primary may be idle for long (a paused VM sends no epochs).
        socket.setTimeout(0);
        tookOver = true;
        await ft.runBackup(socket, channel.detach(), target, expected, result, `${socket.remoteAddress}:${socket.remotePort}`, session);
        return;
      }
      for (const d of deferred) target.restoreDevice(d.ordinal, d.device, d.state);
    });
    if (!tookOver) channel!.send(encodeLine({ type: 'started' }));
    machine.announceNetwork();
    socket.end();
  } catch (e) {
    if (socket.writable) {
      socket.end(encodeLine({ type: 'error', message: (e as Error).message }));
      // Read and drop what the source still sends until it has read why and hung up:
      // unread data would turn our close into a reset that can destroy the reply.
      socket.resume();
    } else {
      socket.destroy();
    }
    throw e;
  }
}
