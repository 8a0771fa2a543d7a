/**
 * -ft-key frame authentication (src/ft/wire/frame-auth.ts): with a session key every
 * frame carries a tag over its header and payload digest, and the reader rejects a frame
 * tagged with another key, an altered frame whose CRCs and SHA-256 were recomputed (what
 * an attacker can do), a replayed frame, a frame reflected back from the other direction
 * and untagged frames, each with one FtWireError line, before anything of it is yielded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { encodeMessage } from '../../../src/ft/wire/encode.js';
import { FtAuthError, FtWireError } from '../../../src/ft/wire/errors.js';
import { channelKeys, FRAME_TAG_SIZE } from '../../../src/ft/wire/frame-auth.js';
import { FRAME_HEADER_SIZE } from '../../../src/ft/wire/format.js';
import type { ChannelMessage } from '../../../src/ft/wire/messages.js';
import { backupReader, drain, epoch, hello, MACHINE, source } from './fixtures.js';
import { ChannelReader } from '../../../src/ft/wire/channel-reader.js';

const SESSION = randomBytes(32);
const primaryKeys = channelKeys(SESSION, 'primary');
const backupKeys = channelKeys(SESSION, 'backup');

const e = (n: number): ChannelMessage => ({ type: 'epoch', content: epoch(n, [1, 2, n % 64]) });
const hb: ChannelMessage = { type: 'heartbeat', sentAtNs: 42n };

/** The primary's stream: each message framed with consecutive numbers and tagged with `key`. */
function tagged(messages: ChannelMessage[], key: Uint8Array | undefined = primaryKeys.send, firstSeq = 0): Buffer[] {
  return messages.map((m, i) => Buffer.concat(encodeMessage(m, firstSeq + i, key)));
}

/** tagKey null: a reader without a key (an explicit undefined would take the default). */
const reader = (bytes: Uint8Array, tagKey: Uint8Array | null = backupKeys.receive, cuts: number[] = []) => backupReader(bytes, { tagKey: tagKey ?? undefined, cuts });

async function rejected(bytes: Uint8Array, pattern: RegExp, yielded: number, tagKey: Uint8Array | null = backupKeys.receive): Promise<Error> {
  const { messages, error } = await drain(reader(bytes, tagKey));
  assert.ok(error instanceof FtWireError, `expected an FtWireError, got ${String(error)}`);
  assert.match(error.message, pattern);
  assert.ok(!error.message.includes('\n'));
  assert.equal(messages.length, yielded, 'messages yielded before the error');
  return error;
}

test('tagged frames with the session key pass, in any chunking; each frame is 16 bytes longer', async () => {
  const list = [hello('primary'), e(1), hb, e(2), { type: 'cancel', reason: 'bye' } as ChannelMessage];
  const bytes = Buffer.concat(tagged(list));
  const plain = Buffer.concat(list.map((m, i) => Buffer.concat(encodeMessage(m, i))));
  assert.equal(bytes.length, plain.length + list.length * FRAME_TAG_SIZE);
  for (const cuts of [[], [1, 21, 500, 5000, 20_000], Array.from({ length: 300 }, (_, i) => i * 97)]) {
    const { messages, error } = await drain(reader(bytes, backupKeys.receive, cuts));
    assert.equal(error, undefined, String(error));
    assert.deepEqual(messages.map((m) => m.type), ['hello', 'epoch', 'heartbeat', 'epoch', 'cancel']);
  }
  // The primary reads the backup's tagged ACKs with its own receive key.
  const acks = Buffer.concat([hello('backup'), { type: 'ack', epoch: 1 } as ChannelMessage].map((m, i) => Buffer.concat(encodeMessage(m, i, backupKeys.send))));
  const p = await drain(new ChannelReader(source(acks), { role: 'primary', machine: MACHINE, tagKey: primaryKeys.receive }));
  assert.equal(p.error, undefined, String(p.error));
  assert.deepEqual(p.messages.map((m) => m.type), ['hello', 'ack']);
});

test('a peer with another key: its very first frame (the HELLO) is rejected', async () => {
  const other = channelKeys(randomBytes(32), 'primary');
  const err = await rejected(Buffer.concat(tagged([hello('primary'), e(1)], other.send)),
    /^FT HELLO #0 from the primary fails its authentication \(HMAC-SHA256 with the -ft-key session key\): it was forged, altered on the way or sent by a peer without the same -ft-key$/, 0);
  assert.ok(err instanceof FtAuthError);
});

test('a forged frame (valid CRCs and SHA-256, another key) in the middle is rejected before it is yielded', async () => {
  const forger = channelKeys(randomBytes(32), 'primary');
  const good = tagged([hello('primary'), e(1)]);
  const forged = Buffer.concat(encodeMessage(e(2), 2, forger.send));
  await rejected(Buffer.concat([...good, forged]), /^FT EPOCH #2 from the primary fails its authentication/, 2);
  // The same for small messages.
  await rejected(Buffer.concat([...good, Buffer.concat(encodeMessage(hb, 2, forger.send))]), /^FT HEARTBEAT #2 from the primary fails its authentication/, 2);
});

test('an altered epoch whose CRCs and SHA-256 the attacker recomputed fails the tag', async () => {
  // What an attacker can produce without the key: the same frame with other page bytes,
  // every checksum right, and the original tag.
  const good = tagged([hello('primary'), e(1), e(2)]);
  const original = good[2];
  const altered = Buffer.concat(encodeMessage({ type: 'epoch', content: { ...epoch(2, [1, 2, 2]), devices: [{ ier: 99 }, { queues: [2] }] } }, 2));
  const withOldTag = Buffer.concat([altered, original.subarray(original.length - FRAME_TAG_SIZE)]);
  await rejected(Buffer.concat([good[0], good[1], withOldTag]), /^FT EPOCH #2 from the primary fails its authentication/, 2);
  // A small message altered the same way.
  const ack = Buffer.concat(encodeMessage({ type: 'cancel', reason: 'stop' }, 1, primaryKeys.send));
  const forgedReason = Buffer.concat(encodeMessage({ type: 'cancel', reason: 'STOP' }, 1));
  await rejected(Buffer.concat([good[0], forgedReason, ack.subarray(ack.length - FRAME_TAG_SIZE)]), /^FT CANCEL #1 from the primary fails its authentication/, 1);
});

test('a replayed frame is rejected: by its sequence number, or by its tag once renumbered', async () => {
  const good = tagged([hello('primary'), e(1), e(2)]);
  // Replayed as is: the sequence number gives it away.
  await rejected(Buffer.concat([...good, good[2]]), /^FT EPOCH #2 from the primary is out of sequence: expected #3 \(a message was repeated or reordered\)$/, 3);
  // Renumbered to the expected #3 (header CRC recomputed): the tag covers the header.
  const replay = Buffer.from(good[2]);
  replay.writeBigUInt64LE(3n, 8);
  const { crc32Of } = await import('../../../src/snapshot/crc.js');
  replay.writeUInt32LE(crc32Of(replay.subarray(0, 16)), 16);
  await rejected(Buffer.concat([...good, replay]), /^FT EPOCH #3 from the primary fails its authentication/, 3);
  // A frame from an earlier session of the same pair, at the right number: another session key.
  const earlier = channelKeys(randomBytes(32), 'primary');
  await rejected(Buffer.concat([...good, Buffer.concat(encodeMessage(hb, 3, earlier.send))]), /^FT HEARTBEAT #3 from the primary fails its authentication/, 3);
});

test('a frame reflected from the other direction fails: each direction has its own key', async () => {
  // The backup's own HEARTBEAT #1, sent back to it as if from the primary.
  const reflected = Buffer.concat(encodeMessage(hb, 1, backupKeys.send));
  await rejected(Buffer.concat([...tagged([hello('primary')]), reflected]), /^FT HEARTBEAT #1 from the primary fails its authentication/, 1);
});

test('no key on one side: untagged frames fail a keyed reader; tagged frames are damage to an unkeyed one', async () => {
  const plain = Buffer.concat([hello('primary'), e(1)].map((m, i) => Buffer.concat(encodeMessage(m, i))));
  // The HELLO's tag would be the next frame's header: the tag check fails.
  await rejected(plain, /^FT HELLO #0 from the primary fails its authentication/, 0);
  // The unkeyed reader takes the tag for the next frame's header: damage, never a yielded epoch.
  await rejected(Buffer.concat(tagged([hello('primary'), e(1)])), /header at byte \d+ from the primary fails its CRC check/, 1, null);
});

test('the tag is computed over the header and the payload digest: payload bytes matter, frame length is checked', async () => {
  const [h] = tagged([hello('primary')]);
  assert.equal(h.length, FRAME_HEADER_SIZE + h.readUInt32LE(4) + 4 + FRAME_TAG_SIZE);
  // A frame cut inside its tag is a truncation.
  await rejected(h.subarray(0, h.length - 3), /the authentication tag of FT HELLO #0/, 0);
});
