/**
 * An FtPrimary over the fakes of fakes.ts with mocked setTimeout, so each epoch
 * boundary happens exactly when the test calls boundary(); and the check every epoch
 * must pass: replayed in order on a copy of the starting RAM, the epochs sent so far
 * rebuild RAM as it was at each boundary, byte for byte.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { FtPrimary } from '../../../src/ft/primary.js';
import { newFtStats, type FtStats } from '../../../src/ft/status.js';
import { applyPages } from '../../../src/ft/wire/index.js';
import { FakeChannel, FakeGuest, FakePrimaryMachine, PAGE, RecordingOutput, settle } from './fakes.js';

export interface Rig {
  log: string[];
  guest: FakeGuest;
  machine: FakePrimaryMachine;
  channel: FakeChannel;
  output: RecordingOutput;
  stats: FtStats;
  primary: FtPrimary;
  ended: { state: string; reason: string }[];
  /** RAM when protection started (what the backup holds as epoch 0). */
  initialRam: Uint8Array;
  /** One epoch length of time passes: the boundary timer fires and everything it started settles. */
  boundary(): Promise<void>;
}

export function primaryRig(t: TestContext, pages = 16, prepare?: (guest: FakeGuest) => void): Rig {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const log: string[] = [];
  const guest = new FakeGuest(pages);
  prepare?.(guest);
  // The initial copy carried everything written so far.
  guest.tracker.harvest();
  guest.harvests = 0;
  const machine = new FakePrimaryMachine(guest, log);
  const channel = new FakeChannel(log);
  const output = new RecordingOutput(log);
  const stats = newFtStats();
  const primary = new FtPrimary(machine, guest.tracker, channel, output, stats, () => {});
  const ended: { state: string; reason: string }[] = [];
  primary.on('ended', (e: { state: string; reason: string }) => ended.push(e));
  const initialRam = Uint8Array.from(guest.ram);
  primary.start();
  return {
    log, guest, machine, channel, output, stats, primary, ended, initialRam,
    async boundary() {
      t.mock.timers.tick(Math.round(stats.epochUs / 1000));
      await settle();
    },
  };
}

/** Epochs numbered 1, 2, 3, ... and each rebuilds RAM at its boundary when replayed in order. */
export function assertEpochsRebuildRam(rig: Rig, what = 'the epochs sent'): void {
  const replica = Uint8Array.from(rig.initialRam);
  rig.channel.sent.forEach((e, i) => {
    assert.equal(e.epoch, i + 1, `${what}: epoch #${i} is numbered ${e.epoch}`);
    const atBoundary = rig.machine.ramAt[e.epoch - 1];
    assert.ok(atBoundary, `${what}: epoch ${e.epoch} has no recorded boundary`);
    for (let k = 0; k < e.pageNumbers.length; k++) {
      const p = e.pageNumbers[k];
      const sent = Buffer.from(e.pageData.buffer, e.pageData.byteOffset + k * PAGE, PAGE);
      assert.ok(sent.equals(atBoundary.subarray(p * PAGE, (p + 1) * PAGE)), `${what}: page ${p} of epoch ${e.epoch} is not RAM at its boundary`);
    }
    applyPages(e, replica);
    const diff = replica.findIndex((b, j) => b !== atBoundary[j]);
    assert.equal(diff, -1, `${what}: after epoch ${e.epoch} the replica differs from RAM at its boundary in page ${Math.floor(diff / PAGE)} (a dirty page was dropped)`);
  });
}
