import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { GatedNetBackend } from '../../../src/ft/output/gated-net-backend.js';
import { OutputGateError } from '../../../src/ft/output/errors.js';
import { FakeNet, settled, turns } from './fakes.js';

/** A packet whose bytes say which epoch and index it is (for order checks). */
function pkt(epoch: number, index: number, size = 16): Uint8Array {
  const p = new Uint8Array(size);
  p[0] = epoch;
  p[1] = index;
  return p;
}

const ids = (sent: Uint8Array[]) => sent.map((p) => `${p[0]}.${p[1]}`);

test('pass mode hands the very same pieces to the real back end, with its answer', () => {
  const net = new FakeNet();
  const gate = new GatedNetBackend(net);
  const pieces = [pkt(0, 0), pkt(0, 1)];
  assert.equal(gate.send(pieces), true);
  assert.equal(net.rawSends[0], pieces);
  net.refuseNext = 1;
  assert.equal(gate.send([pkt(0, 2)]), false);
  assert.equal(gate.holdStats().heldPackets, 0);
});

test('holding: nothing goes out before release; release sends exactly the acknowledged epochs, in order', async () => {
  const net = new FakeNet();
  const gate = new GatedNetBackend(net);
  gate.startHolding(1);
  assert.equal(gate.send([pkt(1, 0)]), true);
  assert.equal(gate.send([pkt(1, 1)]), true);
  gate.beginEpoch(2);
  gate.send([pkt(2, 0)]);
  gate.beginEpoch(3);
  gate.send([pkt(3, 0)]);
  assert.equal(net.sent.length, 0);
  assert.equal(gate.holdStats().heldPackets, 4);

  await gate.releaseThrough(1);
  assert.deepEqual(ids(net.sent), ['1.0', '1.1']);
  await gate.releaseThrough(2);
  assert.deepEqual(ids(net.sent), ['1.0', '1.1', '2.0']);
  // An old acknowledgement arriving late changes nothing.
  await gate.releaseThrough(1);
  assert.equal(net.sent.length, 3);
  gate.beginEpoch(4);
  gate.send([pkt(4, 0)]);
  await gate.releaseThrough(3);
  assert.deepEqual(ids(net.sent), ['1.0', '1.1', '2.0', '3.0']);
  const s = gate.holdStats();
  assert.equal(s.heldPackets, 1);
  assert.equal(s.totalHeldPackets, 5);
  assert.equal(s.totalReleasedPackets, 4);
});

test('holding copies the packet: the guest reusing its buffer does not change what goes out', async () => {
  const net = new FakeNet();
  const gate = new GatedNetBackend(net);
  gate.startHolding(0);
  const header = new Uint8Array([1, 2, 3]);
  const frame = new Uint8Array([4, 5, 6, 7]);
  gate.send([header, frame]);
  header.fill(0);
  frame.fill(0);
  gate.beginEpoch(1);
  await gate.releaseThrough(0);
  assert.deepEqual([...net.sent[0]], [1, 2, 3, 4, 5, 6, 7]);
});

test('real back end backpressure: the gate waits for whenDrained before the next packet and keeps the order', async () => {
  const net = new FakeNet();
  const gate = new GatedNetBackend(net);
  gate.startHolding(1);
  for (let i = 0; i < 5; i++) gate.send([pkt(1, i)]);
  net.refuseNext = 1; // the first packet released is queued by the back end
  gate.beginEpoch(2);
  const released = gate.releaseThrough(1);
  await turns(2);
  assert.deepEqual(ids(net.sent), ['1.0'], 'stops after the back end said it is backed up');
  assert.equal(await settled(released), false);
  net.refuseNext = 1;
  net.drain();
  await turns(2);
  assert.deepEqual(ids(net.sent), ['1.0', '1.1']);
  net.drain();
  await released;
  assert.deepEqual(ids(net.sent), ['1.0', '1.1', '1.2', '1.3', '1.4']);
});

test('memory bound: send answers false past the limit, whenDrained waits for a release, a send ignoring false is dropped', async () => {
  const net = new FakeNet();
  const gate = new GatedNetBackend(net, { maxHeldBytes: 100 });
  gate.startHolding(1);
  assert.equal(gate.send([pkt(1, 0, 40)]), true);
  assert.equal(gate.send([pkt(1, 1, 40)]), true);
  assert.equal(gate.send([pkt(1, 2, 40)]), false, '120 bytes held > 100');
  const drained = gate.whenDrained();
  assert.equal(await settled(drained), false);
  const droppedBefore = gate.stats.droppedSends;
  assert.equal(gate.send([pkt(1, 3, 40)]), false);
  assert.equal(gate.stats.droppedSends, droppedBefore + 1, 'the device counts it as dropped');
  gate.beginEpoch(2);
  await gate.releaseThrough(1);
  await drained;
  assert.deepEqual(ids(net.sent), ['1.0', '1.1', '1.2']);
  assert.equal(gate.holdStats().heldBytes, 0);
  assert.equal(gate.send([pkt(2, 0, 40)]), true);
});

test('releaseAll ends holding: held packets go first, later sends queue behind them while the back end is backed up', async () => {
  const net = new FakeNet();
  const gate = new GatedNetBackend(net);
  gate.startHolding(7);
  gate.send([pkt(7, 0)]);
  gate.send([pkt(7, 1)]);
  net.refuseNext = 1;
  const all = gate.releaseAll();
  assert.equal(gate.mode, 'pass');
  gate.send([pkt(8, 0)]); // queued behind 7.1, not sent directly
  assert.deepEqual(ids(net.sent), ['7.0']);
  net.drain();
  await all;
  await turns(2);
  assert.deepEqual(ids(net.sent), ['7.0', '7.1', '8.0']);
  // Queue empty again: straight through.
  const pieces = [pkt(9, 0)];
  gate.send(pieces);
  assert.equal(net.rawSends.at(-1), pieces);
  // Holding again, with a new session's numbering.
  gate.startHolding(1);
  gate.send([pkt(1, 0)]);
  assert.equal(net.sent.length, 4);
});

test('discardAll drops everything held and wakes a waiting device', async () => {
  const net = new FakeNet();
  const gate = new GatedNetBackend(net, { maxHeldBytes: 10 });
  gate.startHolding(1);
  assert.equal(gate.send([pkt(1, 0, 20)]), false);
  const drained = gate.whenDrained();
  gate.discardAll();
  await drained;
  gate.beginEpoch(2);
  await gate.releaseThrough(1);
  assert.equal(net.sent.length, 0);
  assert.equal(gate.holdStats().totalDiscardedPackets, 1);
});

test('max hold time comes from the clock between send and hand-over', async () => {
  let now = 1000;
  const gate = new GatedNetBackend(new FakeNet(), { now: () => now });
  gate.startHolding(1);
  gate.send([pkt(1, 0)]);
  now += 3;
  gate.send([pkt(1, 1)]);
  now += 4;
  gate.beginEpoch(2);
  await gate.releaseThrough(1);
  assert.equal(gate.holdStats().maxHoldMs, 7);
});

test('driving the gate out of order is an OutputGateError', () => {
  const gate = new GatedNetBackend(new FakeNet());
  assert.throws(() => gate.beginEpoch(1), (e: Error) => e instanceof OutputGateError && /startHolding/.test(e.message));
  gate.startHolding(5);
  assert.throws(() => gate.beginEpoch(5), (e: Error) => e instanceof OutputGateError && /must increase/.test(e.message));
  assert.throws(() => gate.startHolding(6), OutputGateError);
  assert.throws(() => gate.releaseThrough(-1), OutputGateError);
  assert.throws(() => gate.releaseThrough(5), (e: Error) => e instanceof OutputGateError && /still running/.test(e.message));
  assert.throws(() => new GatedNetBackend(new FakeNet(), { maxHeldBytes: 0 }), RangeError);
});

type NetStep =
  | { t: 'send'; size: number }
  | { t: 'epoch' }
  | { t: 'release'; back: number }
  | { t: 'refuse' }
  | { t: 'drain' };

test('property: the wire carries exactly the released epochs\' packets, in send order, whatever the backpressure', async () => {
  const step: fc.Arbitrary<NetStep> = fc.oneof(
    fc.record({ t: fc.constant('send' as const), size: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ t: fc.constant('epoch' as const) }),
    fc.record({ t: fc.constant('release' as const), back: fc.integer({ min: 1, max: 3 }) }),
    fc.record({ t: fc.constant('refuse' as const) }),
    fc.record({ t: fc.constant('drain' as const) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(step, { maxLength: 60 }), fc.integer({ min: 64, max: 400 }), async (steps, limit) => {
      const net = new FakeNet();
      const gate = new GatedNetBackend(net, { maxHeldBytes: limit });
      let epoch = 0;
      let acked = -1;
      let serial = 0;
      const accepted: { epoch: number; id: number }[] = [];
      gate.startHolding(0);
      for (const s of steps) {
        if (s.t === 'send') {
          const id = serial++;
          const p = new Uint8Array(s.size + 4);
          new DataView(p.buffer).setUint32(0, id);
          const over = gate.holdStats().heldBytes > limit;
          gate.send([p]);
          if (!over) accepted.push({ epoch, id });
        } else if (s.t === 'epoch') gate.beginEpoch(++epoch);
        else if (s.t === 'release') {
          acked = Math.max(acked, epoch - s.back);
          if (acked >= 0) void gate.releaseThrough(acked);
        } else if (s.t === 'refuse') net.refuseNext++;
        else net.drain();
        await turns(1);
        const onWire = net.sent.map((p) => new DataView(p.buffer, p.byteOffset).getUint32(0));
        // Never anything unacknowledged; always a prefix of the accepted packets.
        const releasable = accepted.filter((a) => a.epoch <= acked).map((a) => a.id);
        assert.deepEqual(onWire, releasable.slice(0, onWire.length));
      }
      net.refuseNext = 0;
      net.drain();
      await gate.releaseAll();
      const onWire = net.sent.map((p) => new DataView(p.buffer, p.byteOffset).getUint32(0));
      assert.deepEqual(onWire, accepted.map((a) => a.id));
      assert.equal(gate.holdStats().heldBytes, 0);
    }),
    { numRuns: 150 },
  );
});

test('hold times: each held packet\'s time from send to release, taken once; packets that passed are not counted', async () => {
  let now = 100;
  const net = new FakeNet();
  const gate = new GatedNetBackend(net, { now: () => now });
  gate.send([pkt(0, 0)]); // unprotected: passes, no hold
  gate.startHolding(1);
  gate.send([pkt(1, 0)]);
  now = 103;
  gate.beginEpoch(2);
  gate.send([pkt(2, 0)]);
  now = 107.5;
  await gate.releaseThrough(1);
  assert.deepEqual(gate.takeHoldTimes(), [7.5]);
  assert.deepEqual(gate.takeHoldTimes(), [], 'taken once');
  now = 110;
  await gate.releaseAll();
  assert.deepEqual(gate.takeHoldTimes(), [], 'released by releaseAll: queued while holding ended, not an output-commit hold');
  assert.deepEqual(ids(net.sent), ['0.0', '1.0', '2.0']);
});
