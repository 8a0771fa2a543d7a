/**
 * The split-brain hook of the output gates: nothing leaves while the permit says no
 * (whatever the mode, and even output already released), everything held leaves in
 * order once permitChanged() finds it yes again. The permit is told whether what would
 * leave is acknowledged output of protected mode (acked) or not: the split-brain lease
 * lets the former out always and the latter only from the contention's winner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatedNetBackend } from '../../../src/ft/output/gated-net-backend.js';
import { HoldingBlockBackend } from '../../../src/ft/output/holding-block-backend.js';
import { FtOutputCommit } from '../../../src/ft/output/ft-output-commit.js';
import { FakeNet, MemoryDisk, pattern, settled, turns } from './fakes.js';

const packet = (n: number) => [Uint8Array.of(n, 0, 0, 0)];
const seen = (net: FakeNet) => net.sent.map((p) => p[0]);

test('net gate, unprotected: packets wait while the permit says no, then leave in order', async () => {
  const net = new FakeNet();
  const gate = new GatedNetBackend(net);
  let permitted = true;
  gate.setOutputPermit(() => permitted);
  gate.send(packet(1));
  permitted = false;
  gate.send(packet(2));
  gate.send(packet(3));
  await turns(5);
  assert.deepEqual(seen(net), [1]);
  assert.equal(gate.holdStats().heldPackets, 2);
  gate.permitChanged(); // still no
  await turns(5);
  assert.deepEqual(seen(net), [1]);
  permitted = true;
  gate.send(packet(4)); // queued behind the older ones, not ahead of them
  gate.permitChanged();
  await turns(5);
  assert.deepEqual(seen(net), [1, 2, 3, 4]);
  assert.equal(gate.holdStats().heldPackets, 0);
});

test('net gate, protected: an acknowledged epoch is not let out while the permit says no', async () => {
  const net = new FakeNet();
  const gate = new GatedNetBackend(net);
  let permitted = true;
  gate.setOutputPermit(() => permitted);
  gate.startHolding(1);
  gate.send(packet(1));
  gate.beginEpoch(2);
  permitted = false;
  const released = gate.releaseThrough(1);
  assert.equal(await settled(released), false, 'release waits for the permit');
  assert.deepEqual(seen(net), []);
  permitted = true;
  gate.permitChanged();
  await released;
  assert.deepEqual(seen(net), [1]);
});

test('shared-disk gate: no write reaches the image while the permit says no; reads see them; they land in order later', async () => {
  const image = new MemoryDisk(4096);
  const disk = new HoldingBlockBackend(image);
  let permitted = false;
  disk.setOutputPermit(() => permitted);
  await disk.write(0, pattern(512, 1));
  await disk.write(256, pattern(512, 2));
  assert.deepEqual(image.trace, []);
  const back = new Uint8Array(768);
  await disk.read(0, back);
  assert.deepEqual(back.subarray(256), pattern(512, 2));
  const flushed = disk.flush();
  assert.equal(await settled(flushed), false, 'FLUSH waits for the held writes');
  permitted = true;
  disk.permitChanged();
  await flushed;
  assert.deepEqual(image.trace, ['write 0+512', 'write 256+512', 'flush']);
  assert.deepEqual(image.bytes.subarray(256, 768), pattern(512, 2));
});

test('FtOutputCommit hands the permit to its nets and shared disks', async () => {
  const net = new FakeNet();
  const gate = new GatedNetBackend(net);
  const image = new MemoryDisk(4096);
  const shared = new HoldingBlockBackend(image);
  const commit = new FtOutputCommit([gate], [shared]);
  let permitted = false;
  commit.setOutputPermit(() => permitted);
  gate.send(packet(9));
  await shared.write(0, pattern(512, 3));
  await turns(5);
  assert.deepEqual(seen(net), []);
  assert.deepEqual(image.trace, []);
  permitted = true;
  commit.permitChanged();
  await turns(20);
  assert.deepEqual(seen(net), [9]);
  assert.deepEqual(image.trace.slice(0, 1), ['write 0+512']);
});

test('the permit hears acked = true only for acknowledged output in protected mode, false for output held when protection ended', async () => {
  const net = new FakeNet();
  const gate = new GatedNetBackend(net);
  const image = new MemoryDisk(4096);
  const disk = new HoldingBlockBackend(image);
  // The lease's rule: acknowledged output always, anything else only once won.
  let won = false;
  const asked: string[] = [];
  const permit = (acked: boolean) => { asked.push(acked ? 'acked' : 'unacked'); return acked || won; };
  gate.setOutputPermit(permit);
  disk.setOutputPermit(permit);
  gate.startHolding(1);
  disk.startHolding(1);
  gate.send(packet(1));
  await disk.write(0, pattern(512, 1));
  gate.beginEpoch(2);
  disk.beginEpoch(2);
  gate.send(packet(2)); // epoch 2: never acknowledged
  await disk.write(512, pattern(512, 2));
  await Promise.all([gate.releaseThrough(1), disk.releaseThrough(1)]);
  assert.deepEqual(seen(net), [1], 'acknowledged epoch 1 left without a won lease');
  assert.deepEqual(image.trace, ['write 0+512', 'flush']);
  assert.ok(asked.includes('acked'));
  // The backup is lost: everything held becomes unprotected output and waits for the win.
  asked.length = 0;
  const gateDone = gate.releaseAll();
  const diskDone = disk.releaseAll();
  gate.send(packet(3));
  await turns(10);
  assert.deepEqual(seen(net), [1], 'unacknowledged output waits for the contention');
  assert.deepEqual(image.trace, ['write 0+512', 'flush']);
  assert.ok(asked.length > 0 && asked.every((a) => a === 'unacked'), asked.join(','));
  won = true;
  gate.permitChanged();
  disk.permitChanged();
  await Promise.all([gateDone, diskDone]);
  assert.deepEqual(seen(net), [1, 2, 3]);
  assert.deepEqual(image.trace.slice(2, 3), ['write 512+512']);
});

test('shared-disk gate: acknowledged writes of protected mode go out only through the fence; a refusing fence keeps them off the image', async () => {
  const image = new MemoryDisk(4096);
  const disk = new HoldingBlockBackend(image);
  let open = true;
  const fenced: string[] = [];
  disk.setOutputFence(async (write) => {
    fenced.push(open ? 'ran' : 'refused');
    if (!open) return false;
    await write();
    return true;
  });
  disk.startHolding(1);
  await disk.write(0, pattern(512, 1));
  disk.beginEpoch(2);
  await disk.write(512, pattern(512, 2));
  disk.beginEpoch(3);
  await disk.releaseThrough(1);
  assert.deepEqual(image.trace, ['write 0+512', 'flush']);
  assert.deepEqual(fenced, ['ran']);
  open = false; // a backup won the lease
  await disk.releaseThrough(2);
  assert.deepEqual(fenced, ['ran', 'refused']);
  assert.deepEqual(image.trace, ['write 0+512', 'flush'], 'epoch 2 never reached the image');
  assert.equal(disk.holdStats().heldOps, 1);
});
