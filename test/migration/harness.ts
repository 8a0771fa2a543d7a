/** Shared steps of the KVM migration tests: ports, waiting, and the "nothing harmed" checks. */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { listenForMigration, type IncomingListener } from '../../src/migration/incoming.js';
import type { MigrationStats } from '../../src/migration/status.js';
import { checkSweepInvariant } from './sweep-guest.js';
import type { TestDestinationMachine, TestSourceMachine } from './test-machines.js';

import { freePort } from '../../src/net/free-port.js';
export { freePort };

export interface Destination {
  port: number;
  listener: IncomingListener;
  notices: string[];
  /** Resolves when the listener has given up on `n` attempts in all. */
  failures(n: number): Promise<void>;
}

export async function listen(dst: TestDestinationMachine, idleTimeoutMs?: number): Promise<Destination> {
  const port = await freePort();
  const notices: string[] = [];
  const listener = await listenForMigration(dst, { host: '127.0.0.1', port, notice: (l) => notices.push(l), idleTimeoutMs });
  const failures = async (n: number) => {
    await until(() => notices.filter((l) => l.startsWith('incoming migration failed')).length >= n, `the destination to notice ${n} failed attempt(s); notices: ${notices.join(' | ')}`);
  };
  return { port, listener, notices, failures };
}

export async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** The counter at `read` goes up within a second: that guest runs. */
export async function assertCounterAdvances(read: () => bigint, what: string): Promise<void> {
  const before = read();
  await until(() => read() > before + 1000n, `${what}'s counter to advance from ${before}`, 5_000);
}

/** The counter at `read` does not move for a while: that guest is paused. */
export async function assertCounterStill(read: () => bigint, what: string): Promise<void> {
  const before = read();
  await sleep(30);
  assert.equal(read(), before, `${what} is paused, yet its counter moved`);
}

/** The source after a failed or cancelled migration: running again, RAM consistent, dirty logging off. */
export async function assertSourceRecovered(src: TestSourceMachine, stats: MigrationStats, what: string): Promise<void> {
  assert.ok(stats.status === 'failed' || stats.status === 'cancelled', `${what}: status ${stats.status} (${stats.error ?? ''})`);
  if (stats.status === 'failed') assert.ok(stats.error && stats.error.length > 0, `${what}: a failure says why`);
  else assert.equal(stats.error, undefined, `${what}: a cancel is not an error`);
  assert.equal(src.runState(), 'running', `${what}: the source runs again`);
  assert.equal(src.markMigratedCalls, 0, `${what}: the source was never marked migrated`);
  assert.deepEqual(src.stops, [], `${what}: the source guest never stopped`);
  assert.ok(src.trackers.every((t) => !t.isTracking), `${what}: dirty logging is off again`);
  await assertCounterAdvances(() => src.counter, `${what}: the source`);
  await src.stop();
  try {
    checkSweepInvariant(src.memory, `${what}: source RAM`);
  } finally {
    await src.cont();
  }
}

/** The destination after a failed attempt: every load it began rejected; nothing runs. */
export function assertDestinationUntouched(dst: TestDestinationMachine, what: string): void {
  assert.equal(dst.started, false, `${what}: the destination started a VM`);
  assert.equal(dst.resumedVcpus, 0, `${what}: a destination vCPU ran`);
  assert.equal(dst.announced, 0, `${what}: the destination announced the VM`);
  assert.equal(dst.loadFailures.length, dst.attempts, `${what}: every load the destination began was rejected`);
  assert.equal(dst.board, undefined, `${what}: the half-restored board was discarded`);
}
