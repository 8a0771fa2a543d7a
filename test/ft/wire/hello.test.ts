/** HELLO: a peer of another version, role or machine is refused with one message naming both values. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChannelReader } from '../../../src/ft/wire/channel-reader.js';
import { FtPeerMismatchError, FtWireError } from '../../../src/ft/wire/errors.js';
import { MessageType } from '../../../src/ft/wire/format.js';
import { frameChunks } from '../../../src/ft/wire/frame.js';
import type { ChannelMessage } from '../../../src/ft/wire/messages.js';
import { backupReader, drain, frames, hello, MACHINE, source } from './fixtures.js';

async function refusal(peer: ChannelMessage, role: 'primary' | 'backup' = 'backup'): Promise<Error | undefined> {
  const bytes = frames([peer]);
  const reader = role === 'backup' ? backupReader(bytes) : new ChannelReader(source(bytes), { role, machine: MACHINE });
  return (await drain(reader)).error;
}

test('matching HELLOs are accepted and yielded', async () => {
  const { messages, error } = await drain(backupReader(frames([hello('primary')])));
  assert.equal(error, undefined);
  assert.deepEqual(messages, [{ ...hello('primary') }]);
});

test('mismatches name both values and the fix', async () => {
  const base = hello('primary') as ChannelMessage & { type: 'hello' };
  const cases: [ChannelMessage, RegExp][] = [
    [{ ...base, version: 2 }, /^FT channel version mismatch: the primary speaks version 2, this backup speaks version 1 \(run the same cuju version on both hosts\)$/],
    [{ ...base, role: 'backup' }, /^FT role mismatch: the peer is a backup too, and so is this side/],
    [{ ...base, ramBytes: 128 * 1024 * 1024 }, /^FT RAM size mismatch: the primary's VM has 128 MiB of RAM, this backup's 262144 bytes \(start both with the same -m\)$/],
    [{ ...base, vcpuCount: 4 }, /^FT vCPU count mismatch: the primary's VM has 4 vCPUs, this backup's 1 \(start both with the same -smp\)$/],
    [{ ...base, devices: [{ kind: 'serial', id: 'serial0' }] }, /^FT device mismatch: the primary's VM has devices serial 'serial0', this backup's serial 'serial0', virtio-blk 'virtio-mmio.0' \(start both with the same devices, in the same order\)$/],
    [{ ...base, pageSize: 8192 }, /^FT page size mismatch: the primary's VM has 8192-byte pages, this backup's 4096-byte pages/],
  ];
  for (const [peer, pattern] of cases) {
    const error = await refusal(peer);
    assert.ok(error instanceof FtPeerMismatchError, String(error));
    assert.match(error.message, pattern);
  }
});

test('the primary names the backup in its messages', async () => {
  const error = await refusal({ ...hello('backup'), version: 9 } as ChannelMessage, 'primary');
  assert.match(String(error), /the backup speaks version 9, this primary speaks version 1/);
});

test('another version is named even when the rest of its HELLO is unknown to us', async () => {
  // Version 3 might lay out the rest differently: only magic and version are frozen.
  const payload = Buffer.alloc(12);
  payload.write('CUJUFT\0\0', 0, 'latin1');
  payload.writeUInt32LE(3, 8);
  const { error } = await drain(backupReader(Buffer.concat(frameChunks(MessageType.Hello, 0, [payload], 12))));
  assert.match(String(error), /the primary speaks version 3, this backup speaks version 1/);
});

test('a peer that is not a cuju FT channel is told apart from a mismatch', async () => {
  const payload = Buffer.from('GET / HTTP/1.1\r\n\r\n');
  const { error } = await drain(backupReader(Buffer.concat(frameChunks(MessageType.Hello, 0, [payload], payload.length))));
  assert.ok(error instanceof FtWireError && !(error instanceof FtPeerMismatchError));
  assert.match(error.message, /not a cuju fault-tolerance channel/);
});
