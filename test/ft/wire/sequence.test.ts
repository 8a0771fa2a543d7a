/**
 * Channel rules beyond damage: sequence numbers exactly +1 (gaps, repeats, reorders
 * rejected), epochs exactly previous + 1, the released-epoch watermark, who may send
 * what, HELLO only first, nothing after CANCEL, ACKs ascending, and the machine and
 * host checks (vCPU count, KVM struct sizes, device validators).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader } from '../../../src/ft/wire/channel-reader.js';
import { encodeMessage } from '../../../src/ft/wire/encode.js';
import { FtWireError } from '../../../src/ft/wire/errors.js';
import type { ChannelMessage } from '../../../src/ft/wire/messages.js';
import { CAPS } from '../../snapshot/fixtures.js';
import { backupReader, drain, epoch, frames, hello, MACHINE, source } from './fixtures.js';

const e = (n: number, released?: number): ChannelMessage => ({ type: 'epoch', content: epoch(n, [n % 64], { released }) });

/** Frames each [message, seq] pair as given (sequence numbers are not assigned). */
function withSeqs(list: [ChannelMessage, number][]): Buffer {
  return Buffer.concat(list.flatMap(([m, seq]) => encodeMessage(m, seq)));
}

async function rejects(bytes: Uint8Array, pattern: RegExp, yielded: number, reader = backupReader(bytes)): Promise<void> {
  const { messages, error } = await drain(reader);
  assert.ok(error instanceof FtWireError, String(error));
  assert.match(error.message, pattern);
  assert.equal(messages.length, yielded, 'messages yielded before the error');
}

test('sequence gaps, repeats and reorders are rejected', async () => {
  const h = hello('primary');
  await rejects(withSeqs([[h, 0], [e(1), 1], [e(2), 3]]), /EPOCH #3 from the primary is out of sequence: expected #2 \(a message was lost\)/, 2);
  await rejects(withSeqs([[h, 0], [e(1), 1], [e(2), 1]]), /expected #2 \(a message was repeated or reordered\)/, 2);
  await rejects(withSeqs([[h, 0], [e(2), 2], [e(1), 1]]), /expected #1/, 1);
  await rejects(withSeqs([[h, 1]]), /expected #0/, 0);
  const ok = await drain(backupReader(withSeqs([[h, 0], [e(1), 1], [{ type: 'heartbeat', sentAtNs: 5n }, 2], [e(2), 3]])));
  assert.equal(ok.error, undefined);
  assert.equal(ok.messages.length, 4);
});

test('epochs must be exactly the previous + 1, starting after the backup\'s state', async () => {
  await rejects(frames([hello('primary'), e(1), e(3)]), /epoch 3 arrived after epoch 1, expected 2/, 2);
  await rejects(frames([hello('primary'), e(1), e(1)]), /epoch 1 arrived after epoch 1, expected 2/, 2);
  await rejects(frames([hello('primary'), e(1)]), /epoch 1 arrived after epoch 5, expected 6/, 1, backupReader(frames([hello('primary'), e(1)]), { lastEpoch: 5 }));
  const ok = await drain(backupReader(frames([hello('primary'), e(6), e(7)]), { lastEpoch: 5 }));
  assert.deepEqual(ok.messages.slice(1).map((m) => m.type === 'epoch' && m.content.epoch), [6, 7]);
});

test('the released epoch never goes back', async () => {
  await rejects(frames([hello('primary'), e(1, 0), e(2, 1), e(3, 0)]), /released epoch 0 must be 1\.\.2/, 3);
  // The encoder refuses to release an epoch not yet sent.
  assert.throws(() => encodeMessage(e(2, 2), 1), RangeError);
});

test('HELLO opens the channel, once', async () => {
  await rejects(withSeqs([[e(1), 0]]), /must open with a HELLO/, 0);
  await rejects(frames([hello('primary'), hello('primary')]), /HELLO may only open the channel/, 1);
});

test('each side sends only its own messages; nothing follows CANCEL', async () => {
  await rejects(frames([hello('primary'), { type: 'ack', epoch: 1 }]), /a primary never sends ACK/, 1);
  const toPrimary = (bytes: Uint8Array) => new ChannelReader(source(bytes), { role: 'primary', machine: MACHINE });
  await rejects(frames([hello('backup'), e(1)]), /a backup never sends EPOCH/, 1, toPrimary(frames([hello('backup'), e(1)])));
  await rejects(frames([hello('backup'), { type: 'cancel', reason: 'x' }]), /never sends CANCEL/, 1, toPrimary(frames([hello('backup'), { type: 'cancel', reason: 'x' }])));
  await rejects(frames([hello('primary'), { type: 'cancel', reason: 'stop' }, e(1)]), /arrived after CANCEL/, 2);
});

test('ACKs must ascend', async () => {
  const acks = (...n: number[]) => frames([hello('backup'), ...n.map((epoch): ChannelMessage => ({ type: 'ack', epoch }))]);
  const reader = (bytes: Uint8Array) => new ChannelReader(source(bytes), { role: 'primary', machine: MACHINE });
  const ok = await drain(reader(acks(1, 2, 5)));
  assert.equal(ok.error, undefined);
  await rejects(acks(1, 2, 2), /acknowledges epoch 2 after epoch 2/, 3, reader(acks(1, 2, 2)));
});

test('a long CANCEL reason is cut to the limit, not refused', async () => {
  const { messages, error } = await drain(backupReader(frames([hello('primary'), { type: 'cancel', reason: 'é'.repeat(5000) }])));
  assert.equal(error, undefined);
  const reason = (messages[1] as { reason: string }).reason;
  assert.equal(reason, 'é'.repeat(2048));
});

test('vCPU and device state are checked against this host and machine', async () => {
  const bigXsave = { ...MACHINE, capabilities: { ...CAPS, xsaveSize: 8192 } };
  const bytes = frames([hello('primary'), e(1)]);
  await rejects(bytes, /vCPU 0: kvm_xsave is 4096 bytes, this host's XSTATE is 8192/, 1, backupReader(bytes, { machine: bigXsave }));

  const twoVcpus = { ...MACHINE, vcpuCount: 2 };
  const oneVcpu = frames([hello('primary', twoVcpus), e(1)]);
  await rejects(oneVcpu, /carries 1 vCPU states, the machine has 2/, 1, backupReader(oneVcpu, { machine: twoVcpus }));

  const picky = { ...MACHINE, validateDevice: (d: { kind: string }, s: unknown) => { if (d.kind === 'serial' && (s as { ier: number }).ier > 0) throw new Error('ier out of range'); } };
  await rejects(bytes, /the state of serial 'serial0' is not usable: ier out of range/, 1, backupReader(bytes, { machine: picky }));
});
