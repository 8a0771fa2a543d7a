/**
 * FtPrimary against random interleavings of guest writes, epoch boundaries, the socket
 * taking queued epochs and the backup acknowledging them (fast-check). Whatever the
 * order: epochs are numbered 1, 2, 3...; replayed in order they rebuild RAM at every
 * boundary and, at the end, RAM as it is (no write is ever lost); never more than
 * MAX_IN_FLIGHT epochs are unacknowledged; output is released only for acknowledged
 * epochs, in ascending order; each boundary opens the next epoch of output.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MAX_IN_FLIGHT } from '../../../src/ft/primary.js';
import { settle } from './fakes.js';
import { assertEpochsRebuildRam, primaryRig } from './rig.js';

const PAGES = 12;

type Step =
  | { kind: 'write'; page: number; value: number }
  /** The guest's first stores after the next resume rewrite this page (the staged copy must not see them). */
  | { kind: 'rewriteAfterPause'; page: number; value: number }
  | { kind: 'boundary' }
  | { kind: 'transmit'; count: number }
  /** The backup acknowledges the next `count` epochs it has received. */
  | { kind: 'ack'; count: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('write' as const), page: fc.nat(PAGES - 1), value: fc.nat(1e6) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('rewriteAfterPause' as const), page: fc.nat(PAGES - 1), value: fc.nat(1e6) }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'boundary' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('transmit' as const), count: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('ack' as const), count: fc.integer({ min: 1, max: 3 }) }) },
);

test('any interleaving of writes, boundaries, sends and ACKs: epochs rebuild RAM, pipelining bounded, output released after ACKs in order', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 60 }), async (steps) => {
      const rig = primaryRig(t, PAGES, (g) => { for (let p = 0; p < PAGES; p++) g.write(p, p); });
      try {
        rig.channel.autoTransmit = false;
        let acked = 0;
        let pendingRewrite: { page: number; value: number } | undefined;
        rig.machine.onResume = () => {
          if (pendingRewrite) rig.guest.write(pendingRewrite.page, pendingRewrite.value);
          pendingRewrite = undefined;
        };
        const ackUpTo = (n: number) => {
          while (acked < n) rig.channel.ack(++acked);
        };
        for (const s of steps) {
          switch (s.kind) {
            case 'write': rig.guest.write(s.page, s.value); break;
            case 'rewriteAfterPause': pendingRewrite = s; break;
            case 'boundary': await rig.boundary(); break;
            case 'transmit': rig.channel.transmit(Math.min(s.count, rig.channel.queued.length)); await settle(); break;
            case 'ack': ackUpTo(Math.min(acked + s.count, rig.channel.sent.length)); await settle(); break;
          }
          const taken = rig.machine.parks;
          assert.ok(taken - acked <= MAX_IN_FLIGHT, `${taken} epochs taken, ${acked} acknowledged`);
          assert.ok(rig.stats.epochsInFlight <= MAX_IN_FLIGHT);
          assert.deepEqual(rig.output.begun, Array.from({ length: taken + 1 }, (_, i) => i + 1), 'output epochs follow the boundaries');
          for (let i = 1; i < rig.output.released.length; i++) assert.ok(rig.output.released[i] > rig.output.released[i - 1], 'releases ascend');
          assert.ok((rig.output.released.at(-1) ?? 0) <= acked, 'nothing released beyond the ACKs');
          assert.ok(rig.stats.epochsInFlight >= 0);
        }
        // Finish: everything out, everything acknowledged, one more boundary for what is left.
        for (let round = 0; round < MAX_IN_FLIGHT + 2; round++) {
          while (rig.channel.queued.length > 0) {
            rig.channel.transmit();
            await settle();
          }
          ackUpTo(rig.channel.sent.length);
          await settle();
          if (rig.guest.pendingDirty.length === 0 && rig.channel.queued.length === 0) break;
          await rig.boundary();
        }
        assert.deepEqual(rig.guest.pendingDirty, [], 'every dirty page was taken');
        assert.equal(rig.stats.state, 'protected');
        assertEpochsRebuildRam(rig);
        assert.deepEqual(rig.output.released.at(-1) ?? 0, acked);
        // And the last epoch leaves the replica equal to RAM as it is now.
        const last = rig.machine.ramAt.at(-1) ?? rig.initialRam;
        assert.ok(Buffer.from(last).equals(Buffer.from(rig.guest.ram)), 'the last boundary saw every write');
      } finally {
        t.mock.timers.reset();
      }
    }),
    { numRuns: 150 },
  );
});
