/**
 * The FT channel over a migration socket once the initial copy is done: HELLO both
 * ways, then the primary's epochs and the backup's acknowledgements (src/ft/wire).
 * Bytes that arrived with the last line of the migration session are read first.
 */
import type { Socket } from 'node:net';
import type { ExpectedMachine } from '../snapshot/snapshot-parser.js';
import { StreamByteQueue } from '../snapshot/stream-byte-queue.js';
import type { BackupChannel, BackupMessage } from './backup.js';
import type { EpochContent } from './epoch.js';
import type { PrimaryChannel } from './primary.js';
import { ChannelReader, ChannelWriter, localHello, type ChannelMessage, type FtRole } from './wire/index.js';

async function* chunksAfter(rest: Uint8Array, socket: Socket): AsyncGenerator<Uint8Array> {
  if (rest.length > 0) yield rest;
  socket.resume();
  for await (const chunk of socket.iterator({ destroyOnReturn: false })) yield chunk as Buffer;
}

export interface OpenedChannel {
  reader: ChannelReader;
  writer: ChannelWriter;
  peerEpochUs: number;
}

/** Exchanges HELLOs (the reader refuses a peer of another version, role or machine). */
export async function openChannel(socket: Socket, rest: Uint8Array, role: FtRole, machine: ExpectedMachine, epochUs: number, lastEpoch = 0): Promise<OpenedChannel> {
  const peer = role === 'primary' ? 'backup' : 'primary';
  const queue = new StreamByteQueue(chunksAfter(rest, socket), `the FT channel from the ${peer}`);
  const reader = new ChannelReader(queue, { role, machine, lastEpoch, reusePageBuffer: role === 'backup' });
  const writer = new ChannelWriter(socket);
  await writer.send({ type: 'hello', ...localHello(role, machine, epochUs) });
  const hello = await reader.next();
  if (!hello || hello.type !== 'hello') throw new Error(`the ${peer} closed the FT channel before its HELLO`);
  return { reader, writer, peerEpochUs: hello.epochUs };
}

/** How long a cancelling primary waits for the backup to read CANCEL and hang up. */
export const CANCEL_DRAIN_MS = 5_000;

export function primaryChannel(socket: Socket, opened: OpenedChannel): PrimaryChannel {
  const ackListeners: ((n: number) => void)[] = [];
  const closeListeners: ((why: string) => void)[] = [];
  let closed = false;
  /** CANCEL went out: the backup hanging up is what it was told to do, not a loss. */
  let cancelSent = false;
  let onClosed: () => void = () => {};
  const hungUp = new Promise<void>((resolve) => { onClosed = resolve; });
  const close = (why: string) => {
    if (closed) return;
    closed = true;
    socket.destroy();
    onClosed();
    if (!cancelSent) for (const l of closeListeners) l(why);
  };
  void (async () => {
    try {
      for (;;) {
        const m: ChannelMessage | undefined = await opened.reader.next();
        if (!m) return close('the backup closed the connection');
        if (m.type === 'ack') for (const l of ackListeners) l(m.epoch);
      }
    } catch (e) {
      close((e as Error).message);
    }
  })();
  socket.on('error', (e) => close(e.message));
  return {
    sendEpoch: (content: EpochContent) => opened.writer.send({ type: 'epoch', content }),
    // The backup may still be reading epochs queued ahead of the CANCEL and acknowledging
    // them. Closing now would answer those ACKs with a reset, which destroys what the
    // backup has not read yet, CANCEL included: it would take over instead of exiting.
    // So: half-close (FIN after the CANCEL), keep reading ACKs, and let the backup hang up.
    sendCancel: async (reason: string) => {
      cancelSent = true;
      await opened.writer.send({ type: 'cancel', reason });
      socket.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([hungUp, new Promise<void>((resolve) => { timer = setTimeout(resolve, CANCEL_DRAIN_MS); })]);
      clearTimeout(timer);
      close('protection cancelled');
    },
    onAck: (l) => ackListeners.push(l),
    onClose: (l) => closeListeners.push(l),
    close: () => close('protection ended'),
  };
}

export function backupChannel(socket: Socket, opened: OpenedChannel): BackupChannel {
  socket.on('error', () => {}); // reaches next() as a rejection
  return {
    async next(): Promise<BackupMessage> {
      for (;;) {
        const m = await opened.reader.next();
        if (!m) throw new Error('the primary closed the connection');
        if (m.type === 'epoch') return { type: 'epoch', epoch: m.content };
        if (m.type === 'cancel') return { type: 'cancel', reason: m.reason };
        // heartbeats: the next issue's failure detector listens to them
      }
    },
    sendAck: (epoch) => { void opened.writer.send({ type: 'ack', epoch }).catch(() => {}); },
    close: () => socket.destroy(),
  };
}
