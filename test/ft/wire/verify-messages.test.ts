/**
 * VERIFY and VERIFY_RESULT on the FT channel: round trips through the reader, the rules
 * (a VERIFY follows its EPOCH, only the primary sends VERIFY and only the backup
 * VERIFY_RESULT, results ascend), and payloads that do not fit this machine are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader } from '../../../src/ft/wire/channel-reader.js';
import { FtWireError } from '../../../src/ft/wire/errors.js';
import type { ChannelMessage } from '../../../src/ft/wire/messages.js';
import { decodeVerifyPayload, encodeVerifyPayload, MAX_VERIFY_RANGES, type VerifyRequest } from '../../../src/ft/wire/verify-messages.js';
import { deviceDigest, differingRanges, ramDigests } from '../../../src/ft/verify/ram-digests.js';
import { verifyBackupState } from '../../../src/ft/verify/backup-verifier.js';
import { backupReader, drain, epoch, frames, hello, MACHINE, PAGE, patternRam, RAM_PAGES, source } from './fixtures.js';

const CHUNK = 16 * PAGE;

function request(n: number, ram = patternRam(1)): VerifyRequest {
  return { epoch: n, chunkBytes: CHUNK, deviceDigest: deviceDigest([{ kind: 'serial', lsr: 96 }]), ramDigests: ramDigests(Buffer.from(ram), CHUNK) };
}

test('VERIFY after its EPOCH and VERIFY_RESULT come through the reader intact', async () => {
  const req = request(1);
  const { messages, error } = await drain(backupReader(frames([hello('primary'), { type: 'epoch', content: epoch(1, [3]) }, { type: 'verify', request: req }])));
  assert.equal(error, undefined);
  const got = messages[2] as Extract<ChannelMessage, { type: 'verify' }>;
  assert.equal(got.type, 'verify');
  assert.equal(got.request.epoch, 1);
  assert.equal(got.request.ramDigests.length, RAM_PAGES * PAGE / CHUNK);
  assert.deepEqual(got.request.ramDigests.map((d) => Buffer.from(d).toString('hex')), req.ramDigests.map((d) => Buffer.from(d).toString('hex')));

  const result = { epoch: 1, devicesDiffer: true, truncated: false, ramRanges: [{ firstPage: 16, pages: 32 }] };
  const reader = new ChannelReader(source(frames([hello('backup'), { type: 'verify-result', result }])), { role: 'primary', machine: MACHINE });
  const back = await drain(reader);
  assert.equal(back.error, undefined);
  assert.deepEqual(back.messages[1], { type: 'verify-result', result });
});

test('a VERIFY that does not follow its epoch, or comes from the backup, is refused', async () => {
  const notAfter = await drain(backupReader(frames([hello('primary'), { type: 'epoch', content: epoch(1, [3]) }, { type: 'verify', request: request(2) }])));
  assert.ok(notAfter.error instanceof FtWireError);
  assert.match(notAfter.error.message, /VERIFY #2 from the primary: verifies epoch 2, but the last EPOCH was 1/);

  const wrongSide = new ChannelReader(source(frames([hello('backup'), { type: 'verify', request: request(1) }])), { role: 'primary', machine: MACHINE });
  const w = await drain(wrongSide);
  assert.match(String(w.error), /a backup never sends VERIFY/);

  const r = (n: number): ChannelMessage => ({ type: 'verify-result', result: { epoch: n, devicesDiffer: false, truncated: false, ramRanges: [] } });
  const desc = await drain(new ChannelReader(source(frames([hello('backup'), r(10), r(5)])), { role: 'primary', machine: MACHINE }));
  assert.match(String(desc.error), /reports epoch 5 after epoch 10: results must ascend/);
});

test('a VERIFY for another RAM size or with a bad chunk size is refused', () => {
  const b = encodeVerifyPayload(request(1));
  assert.throws(() => decodeVerifyPayload(b, MACHINE.ramBytes * 2, 'VERIFY #2'), /4 RAM chunks of 65536 bytes, this VM's 524288-byte RAM has 8/);
  assert.throws(() => decodeVerifyPayload(b.subarray(0, b.length - 1), MACHINE.ramBytes, 'VERIFY #2'), FtWireError);
  const odd = Buffer.from(b);
  odd.writeUInt32LE(3 * PAGE, 8);
  assert.throws(() => decodeVerifyPayload(odd, MACHINE.ramBytes, 'VERIFY #2'), /not a power of two/);
  assert.throws(() => encodeVerifyPayload({ ...request(1), epoch: 0 }), RangeError);
});

test('the backup check names the chunks that differ and whether device state differs', async () => {
  const ram = patternRam(1);
  const req = request(7, ram);
  const same = await verifyBackupState(req, Buffer.from(ram), [{ kind: 'serial', lsr: 96 }]);
  assert.deepEqual(same, { epoch: 7, devicesDiffer: false, ramRanges: [], truncated: false });
  const changed = Uint8Array.from(ram);
  changed[20 * PAGE + 5] ^= 1; // chunk 1 (pages 16-31)
  changed[40 * PAGE] ^= 1; // chunk 2 (pages 32-47): merged with chunk 1
  const r = await verifyBackupState(req, Buffer.from(changed), [{ kind: 'serial', lsr: 97 }]);
  assert.deepEqual(r.ramRanges, [{ firstPage: 16, pages: 32 }]);
  assert.equal(r.epoch, 7);
  assert.equal(r.devicesDiffer, true, 'another device state');
  // Ranges stop at RAM's end, and the list is bounded.
  assert.deepEqual(differingRanges([new Uint8Array(32)], [new Uint8Array(32).fill(1)], 1 << 20, 10 * PAGE), [{ firstPage: 0, pages: 10 }]);
  assert.equal(MAX_VERIFY_RANGES, 1024);
});
