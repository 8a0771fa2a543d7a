/**
 * The FT channel over a migration socket once the initial copy is done: HELLO both
 * ways, then the primary's epochs and the backup's acknowledgements (src/ft/wire).
 * Bytes that arrived with the last line of the migration session are read first.
 * Both ends watch each other with heartbeats (heartbeat.ts): a silent backup ends the
 * primary's channel, a silent primary makes the backup's next() reject (failover). With
 * a session key from the -ft-key handshake, every frame is authenticated.
 */
import type { Socket } from 'node:net';
import type { ExpectedMachine } from '../snapshot/snapshot-parser.js';
import { StreamByteQueue } from '../snapshot/stream-byte-queue.js';
import type { BackupChannel, BackupMessage } from './backup.js';
import type { EpochContent } from './epoch.js';
import { newLiveness, PeerWatch, type Liveness } from './heartbeat.js';
import type { PrimaryChannel } from './primary.js';
import { ChannelReader, ChannelWriter, channelKeys, localHello, type ChannelMessage, type FtRole, type VerifyRequest, type VerifyResult } from './wire/index.js';

/**
 * The socket's chunks, telling the watch when bytes arrive and whether anyone is waiting
 * for them (the code after a yield runs when the reader asks for the next chunk).
 */
async function* chunksAfter(rest: Uint8Array, socket: Socket, watch: PeerWatch): AsyncGenerator<Uint8Array> {
  if (rest.length > 0) {
    watch.heard();
    yield rest;
  }
  watch.setWaiting(true);
  socket.resume();
  try {
    for await (const chunk of socket.iterator({ destroyOnReturn: false })) {
      watch.heard();
      watch.setWaiting(false);
      yield chunk as Buffer;
      watch.setWaiting(true);
    }
  } finally {
    watch.setWaiting(false);
  }
}

export interface ChannelOptions {
  /** From the -ft-key handshake of the migration before: authenticate every frame. */
  sessionKey?: Uint8Array;
  /** Heartbeat settings (read live) and where the last sign of life is noted. */
  liveness?: Liveness;
}

export interface OpenedChannel {
  reader: ChannelReader;
  writer: ChannelWriter;
  peerEpochUs: number;
  /** Started by primaryChannel / backupChannel. */
  watch: PeerWatch;
  liveness: Liveness;
}

/** Exchanges HELLOs (the reader refuses a peer of another version, role or machine). */
export async function openChannel(socket: Socket, rest: Uint8Array, role: FtRole, machine: ExpectedMachine, epochUs: number, lastEpoch = 0, opts: ChannelOptions = {}): Promise<OpenedChannel> {
  const peer = role === 'primary' ? 'backup' : 'primary';
  const liveness = opts.liveness ?? newLiveness();
  const watch = new PeerWatch(liveness, peer);
  const keys = opts.sessionKey ? channelKeys(opts.sessionKey, role) : undefined;
  const queue = new StreamByteQueue(chunksAfter(rest, socket, watch), `the FT channel from the ${peer}`);
  const reader = new ChannelReader(queue, { role, machine, lastEpoch, reusePageBuffer: role === 'backup', tagKey: keys?.receive });
  const writer = new ChannelWriter(socket, keys?.send);
  await writer.send({ type: 'hello', ...localHello(role, machine, epochUs) });
  const hello = await reader.next();
  if (!hello || hello.type !== 'hello') throw new Error(`the ${peer} closed the FT channel before its HELLO`);
  return { reader, writer, peerEpochUs: hello.epochUs, watch, liveness };
}

/**
 * Every period: a HEARTBEAT, unless something is still queued on the socket (its bytes
 * are the sign of life; a heartbeat behind them would say nothing more) or a frame went
 * out within the last period anyway.
 */
function sendHeartbeat(opened: OpenedChannel): void {
  const w = opened.writer;
  if (w.closed || w.queuedBytes > 0 || performance.now() - w.lastSentAt < opened.liveness.heartbeat.periodMs) return;
  void w.send({ type: 'heartbeat', sentAtNs: process.hrtime.bigint() }).catch(() => {});
}

/** How long a cancelling primary waits for the backup to read CANCEL and hang up. */
export const CANCEL_DRAIN_MS = 5_000;

export function primaryChannel(socket: Socket, opened: OpenedChannel): PrimaryChannel {
  const ackListeners: ((n: number) => void)[] = [];
  const verifyListeners: ((r: VerifyResult) => void)[] = [];
  const closeListeners: ((why: string) => void)[] = [];
  let closed = false;
  /** CANCEL went out: the backup hanging up is what it was told to do, not a loss. */
  let cancelSent = false;
  let onClosed: () => void = () => {};
  const hungUp = new Promise<void>((resolve) => { onClosed = resolve; });
  const close = (why: string) => {
    if (closed) return;
    closed = true;
    opened.watch.stop();
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
        if (m.type === 'verify-result') for (const l of verifyListeners) l(m.result);
      }
    } catch (e) {
      close((e as Error).message);
    }
  })();
  socket.on('error', (e) => close(e.message));
  opened.watch.start({ beat: () => sendHeartbeat(opened), silent: close });
  return {
    sendEpoch: (content: EpochContent) => opened.writer.send({ type: 'epoch', content }),
    // The backup may still be reading epochs queued ahead of the CANCEL and acknowledging
    // them. Closing now would answer those ACKs with a reset, which destroys what the
    // backup has not read yet, CANCEL included: it would take over instead of exiting.
    // So: half-close (FIN after the CANCEL), keep reading ACKs, and let the backup hang up.
    sendCancel: async (reason: string) => {
      cancelSent = true;
      // Nothing may follow CANCEL, heartbeats included; the backup hangs up, or the bound ends it.
      opened.watch.stop();
      await opened.writer.send({ type: 'cancel', reason });
      socket.end();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([hungUp, new Promise<void>((resolve) => { timer = setTimeout(resolve, CANCEL_DRAIN_MS); })]);
      clearTimeout(timer);
      close('protection cancelled');
    },
    onAck: (l) => ackListeners.push(l),
    sendVerify: (request: VerifyRequest) => opened.writer.send({ type: 'verify', request }),
    onVerifyResult: (l) => verifyListeners.push(l),
    onClose: (l) => closeListeners.push(l),
    close: () => close('protection ended'),
  };
}

export function backupChannel(socket: Socket, opened: OpenedChannel): BackupChannel {
  socket.on('error', () => {}); // reaches next() as a rejection
  const { watch } = opened;
  // A silent primary rejects the next() that waits (and every later one): failover.
  // Not Promise.race against one long-lived "silent" promise: every race adds a reaction
  // to it that keeps that race's result, the whole epoch, alive until the channel ends
  // (the backup's memory grew by every epoch it received).
  let silence: Error | undefined;
  let onSilent: ((e: Error) => void) | undefined;
  watch.start({
    beat: () => sendHeartbeat(opened),
    silent: (why) => {
      silence = new Error(why);
      onSilent?.(silence);
      socket.destroy();
    },
  });
  const read = async (): Promise<BackupMessage> => {
    for (;;) {
      const m = await opened.reader.next();
      if (!m) throw new Error('the primary closed the connection');
      if (m.type === 'epoch') return { type: 'epoch', epoch: m.content };
      if (m.type === 'cancel') {
        watch.stop();
        return { type: 'cancel', reason: m.reason };
      }
      if (m.type === 'verify') return { type: 'verify', request: m.request };
      // HEARTBEAT: its bytes already counted as life.
    }
  };
  return {
    next(): Promise<BackupMessage> {
      if (silence) return Promise.reject(silence);
      return new Promise<BackupMessage>((resolve, reject) => {
        onSilent = reject;
        read().then(resolve, reject).finally(() => { if (onSilent === reject) onSilent = undefined; });
      });
    },
    sendAck: (epoch) => { void opened.writer.send({ type: 'ack', epoch }).catch(() => {}); },
    sendVerifyResult: (result) => { void opened.writer.send({ type: 'verify-result', result }).catch(() => {}); },
    close: () => {
      watch.stop();
      socket.destroy();
    },
  };
}
