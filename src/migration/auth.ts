/**
 * -ft-key authentication of a migration connection (docs/PROTOCOL.md, "Authentication").
 * Before any state flows, source and destination each prove they hold the shared key
 * without sending it, over fresh random nonces from both (so no proof can be replayed
 * into another connection), and derive a session key from the key and both nonces:
 *
 *   source → destination   hello (FLAG_AUTH) + Ns (32 random bytes)
 *   destination → source   {"type":"challenge","nonce":hex(Nd),"proof":hex(Pd)}
 *   source → destination   Ps (32 bytes)
 *     T  = hello || Ns || Nd                      (the hello's flags are bound too)
 *     Pd = HMAC-SHA256(K, "cuju-auth destination\0" || T)
 *     Ps = HMAC-SHA256(K, "cuju-auth source\0" || T)
 *     S  = HMAC-SHA256(K, "cuju-auth session\0" || T)
 *
 * The source checks Pd before it sends Ps (a peer without the key learns nothing it could
 * reuse, and gets 32 zero bytes instead). Then the snapshot stream is authenticated as a
 * whole: each command after it (go / ft / abort) carries
 *   mac = HMAC-SHA256(S, "cuju-command\0" || type || "\0" || reason || "\0" || M),
 *   M   = HMAC-SHA256(S, every byte of the snapshot stream)
 * and the destination acts on no command (never starts or keeps a VM) whose mac is wrong.
 * S then keys the FT channel's frame tags (src/ft/wire/frame-auth.ts).
 */
import { createHmac, randomBytes, timingSafeEqual, type Hmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { MigrationProtocolError } from './errors.js';

export const NONCE_SIZE = 32;
export const PROOF_SIZE = 32;

/** The one line both sides give when the other does not prove the same key. */
export const AUTH_REFUSED = 'the peer did not authenticate with the -ft-key shared key: start both sides with the same -ft-key FILE';
export const DESTINATION_WITHOUT_KEY = 'the source authenticates with an -ft-key shared key and this destination has none: start both sides with the same -ft-key FILE';
export const COMMAND_REFUSED = 'the migration stream or the command after it failed its -ft-key authentication (altered on the way?): the VM was not taken over here';

export class MigrationAuthError extends MigrationProtocolError {}

export interface AuthTranscript {
  hello: Uint8Array;
  sourceNonce: Uint8Array;
  destinationNonce: Uint8Array;
}

function mac(key: Uint8Array, label: string, t: AuthTranscript): Buffer {
  return createHmac('sha256', key).update(label).update(t.hello).update(t.sourceNonce).update(t.destinationNonce).digest();
}

export const newNonce = (): Buffer => randomBytes(NONCE_SIZE);
export const destinationProof = (key: Uint8Array, t: AuthTranscript) => mac(key, 'cuju-auth destination\0', t);
export const sourceProof = (key: Uint8Array, t: AuthTranscript) => mac(key, 'cuju-auth source\0', t);
export const sessionKeyOf = (key: Uint8Array, t: AuthTranscript) => mac(key, 'cuju-auth session\0', t);

export function proofMatches(expected: Uint8Array, got: Uint8Array): boolean {
  return expected.length === got.length && timingSafeEqual(expected, got);
}

/** The mac field of a command, binding it to the stream's MAC. */
export function commandMac(session: Uint8Array, command: { type: string; reason?: string }, streamMac: Uint8Array): string {
  return createHmac('sha256', session)
    .update(`cuju-command\0${command.type}\0${command.reason ?? ''}\0`)
    .update(streamMac)
    .digest('hex');
}

export function commandMacMatches(session: Uint8Array, command: { type: string; reason?: string; mac?: string }, streamMac: Uint8Array): boolean {
  if (!command.mac) return false;
  return proofMatches(Buffer.from(commandMac(session, command, streamMac), 'hex'), Buffer.from(command.mac, 'hex'));
}

/**
 * Source side: a Writable in front of the rate limiter that MACs exactly what the
 * snapshot writer writes (the disk copy before it goes to the limiter directly).
 */
export class StreamMacWriter extends Writable {
  private readonly hmac: Hmac;

  constructor(private readonly sink: Writable, session: Uint8Array) {
    super({ highWaterMark: 1 << 20 });
    this.hmac = createHmac('sha256', session);
    sink.on('error', (e) => this.destroy(e));
    sink.on('close', () => { if (!this.destroyed) this.destroy(new Error('connection closed')); });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.hmac.update(chunk);
    if (this.sink.write(chunk)) done();
    else this.sink.once('drain', () => done());
  }

  /** M, once every byte of the stream has been passed on. */
  digest(): Buffer {
    if (this.writableLength > 0) throw new MigrationProtocolError('internal: the stream MAC was taken before the stream was written');
    return this.hmac.digest();
  }
}

/**
 * Destination side: the socket's chunks as the stream restore pulls them, MACed. The
 * restore may pull bytes past the stream's end (returned to us as `rest`, always the
 * tail of the last chunk pulled), so each chunk is MACed only once the next one is
 * pulled, and the last one without `rest`.
 */
/**
 * Destination side, before the snapshot stream: an exact-length reader whose bytes also
 * go into the stream's MAC (the FT disk copy runs between the handshake and the RAM, and
 * the MAC must cover it too). Hand `hmac` to the StreamMacReader that follows.
 */
export function macTee(read: (n: number, what: string) => Promise<Uint8Array>, session: Uint8Array): { read: (n: number, what: string) => Promise<Uint8Array>; hmac: Hmac } {
  const hmac = createHmac('sha256', session);
  return {
    hmac,
    read: async (n, what) => {
      const b = await read(n, what);
      hmac.update(b);
      return b;
    },
  };
}

export class StreamMacReader {
  private readonly hmac: Hmac;
  private held?: Uint8Array;
  private readonly source: AsyncIterator<unknown>;

  /** `hmac`: one that already took the bytes before the snapshot stream (the disk copy: macTee). */
  constructor(private readonly socket: import('node:net').Socket, session: Uint8Array, hmac: Hmac = createHmac('sha256', session)) {
    this.hmac = hmac;
    this.source = socket.iterator({ destroyOnReturn: false });
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const r = await this.source.next();
      if (r.done) return;
      if (this.held) this.hmac.update(this.held);
      this.held = r.value as Uint8Array;
      yield this.held;
    }
  }

  /** M over the stream, given what the restore read past its end; lets go of the socket. */
  finish(rest: Uint8Array): Buffer {
    void this.source.return?.()?.catch(() => {});
    const last = this.held ?? new Uint8Array(0);
    if (rest.length > last.length) throw new MigrationProtocolError('internal: the restore returned more than its last chunk');
    this.hmac.update(last.subarray(0, last.length - rest.length));
    return this.hmac.digest();
  }
}
