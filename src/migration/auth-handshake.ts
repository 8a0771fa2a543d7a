/**
 * The -ft-key handshake of auth.ts on each side of a migration connection, right after
 * the hello and before any state flows. Each returns the session key, or undefined when
 * neither side uses a key; a peer without the same key is refused with one line.
 */
import type { Socket } from 'node:net';
import {
  AUTH_REFUSED, DESTINATION_WITHOUT_KEY, destinationProof, MigrationAuthError, newNonce, NONCE_SIZE, PROOF_SIZE,
  proofMatches, sessionKeyOf, sourceProof, type AuthTranscript,
} from './auth.js';
import { MigrationProtocolError } from './errors.js';
import { encodeLine, parseReply, type Hello } from './wire.js';

/** Destination: `read` takes exactly n bytes off the socket (bounded in time). */
export async function authenticateSource(
  socket: Socket, hello: Hello, helloBytes: Uint8Array, key: Uint8Array | undefined,
  read: (n: number, what: string) => Promise<Uint8Array>,
): Promise<Buffer | undefined> {
  if (!hello.auth && !key) return undefined;
  if (!hello.auth) throw new MigrationAuthError(AUTH_REFUSED);
  if (!key) throw new MigrationAuthError(DESTINATION_WITHOUT_KEY);
  const t: AuthTranscript = { hello: helloBytes, sourceNonce: await read(NONCE_SIZE, 'authentication nonce'), destinationNonce: newNonce() };
  socket.write(encodeLine({ type: 'challenge', nonce: Buffer.from(t.destinationNonce).toString('hex'), proof: destinationProof(key, t).toString('hex') }));
  const proof = await read(PROOF_SIZE, 'proof of the -ft-key');
  if (!proofMatches(sourceProof(key, t), proof)) throw new MigrationAuthError(AUTH_REFUSED);
  return sessionKeyOf(key, t);
}

/** Source, with a key: `nextLine` is the destination's next reply line (bounded in time). */
export async function authenticateDestination(socket: Socket, helloBytes: Uint8Array, key: Uint8Array, nextLine: () => Promise<string>): Promise<Buffer> {
  const sourceNonce = newNonce();
  socket.write(sourceNonce);
  const reply = parseReply(await nextLine());
  if (reply.type === 'error') throw new MigrationProtocolError(`the destination refused the migration: ${reply.message}`);
  if (reply.type !== 'challenge') throw new MigrationAuthError(AUTH_REFUSED);
  const t: AuthTranscript = { hello: helloBytes, sourceNonce, destinationNonce: Buffer.from(reply.nonce, 'hex') };
  if (!proofMatches(destinationProof(key, t), Buffer.from(reply.proof, 'hex'))) {
    // Our proof is of no use to a peer without the key; it gets zeros and the same line.
    socket.write(Buffer.alloc(PROOF_SIZE));
    throw new MigrationAuthError(AUTH_REFUSED);
  }
  socket.write(sourceProof(key, t));
  return sessionKeyOf(key, t);
}
