/**
 * `npm run torture` (node dist/test/torture/run.js): many rounds of faults injected into
 * a protected real guest (round.ts), one round at a time, then the table and totals.
 * Needs root, /dev/kvm and `npm run guest`. Env:
 *   CUJU_TORTURE_ROUNDS  rounds (default 14: every runnable fault kind about twice)
 *   CUJU_TORTURE_SEED    replay a run (printed at the start and under the table)
 *   CUJU_TORTURE_FAULTS  only these kinds, comma-separated (kill-primary, kill-backup,
 *                        stop-primary, cut-link, slow-link, corrupt-epoch, truncate-epoch,
 *                        reprotect, pause-primary, standby, stop-in-lock)
 *   CUJU_TORTURE_FEATURES  force engine features on (heartbeat,lease,key or all)
 *   CUJU_TORTURE_MINUTES  start no round after this many minutes (a time budget for long runs)
 * SIGINT/SIGTERM: finish the round under way, then print the table of the rounds run
 * (a second one stops at once). Exit status 1 when any round failed.
 */
import { guestSkipReason } from '../helpers/guest-vm.js';
import { netnsSkipReason } from '../helpers/netns.js';
import { diskCheckSkipReason } from '../helpers/kv-disk-check.js';
import { SeededRandom } from '../helpers/seeded-random.js';
import { ftFeatures } from './ft-features.js';
import { planRounds } from './plan.js';
import { runRound, type RoundOutcome } from './round.js';
import { table, totals } from './report.js';

const T0 = performance.now();
const log = (line: string) => process.stderr.write(`torture: [${((performance.now() - T0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

async function main(): Promise<number> {
  const skip = guestSkipReason() || netnsSkipReason() || diskCheckSkipReason();
  if (skip) throw new Error(`cannot run: ${skip}`);
  const rounds = Number(process.env.CUJU_TORTURE_ROUNDS ?? 14);
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`CUJU_TORTURE_ROUNDS must be a whole number ≥ 1, got '${process.env.CUJU_TORTURE_ROUNDS}'`);
  const minutes = Number(process.env.CUJU_TORTURE_MINUTES ?? Infinity);
  if (!(minutes > 0)) throw new RangeError(`CUJU_TORTURE_MINUTES must be a number of minutes > 0, got '${process.env.CUJU_TORTURE_MINUTES}'`);
  let stopWhy = '';
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopWhy) process.exit(130);
      stopWhy = `${sig}`;
      log(`${sig}: finishing this round, then the table (again to stop at once)`);
    });
  }
  const rng = SeededRandom.fromEnv('CUJU_TORTURE_SEED');
  const features = ftFeatures();
  const plan = planRounds(rounds, rng, features, process.env.CUJU_TORTURE_FAULTS ?? '');
  log(`seed ${rng.seed}; engine features: ${JSON.stringify(features)}`);
  for (const s of plan.skipped) log(`not run: ${s}`);
  const outcomes: RoundOutcome[] = [];
  const notRun: string[] = [];
  let brokenInARow = 0;
  for (const [i, r] of plan.rounds.entries()) {
    if (!stopWhy && performance.now() - T0 > minutes * 60_000) stopWhy = `the ${minutes}-minute budget (CUJU_TORTURE_MINUTES) is spent`;
    if (stopWhy) {
      log(`stopped after ${i} of ${plan.rounds.length} rounds: ${stopWhy}`);
      break;
    }
    log(`round ${i + 1}/${plan.rounds.length}: ${r.fault.name}, ${r.disk} disk`);
    try {
      const o = await runRound({ index: i + 1, fault: r.fault, disk: r.disk, rng, features, log });
      outcomes.push(o);
      brokenInARow = 0;
      log(`round ${i + 1}: ${o.ok ? 'ok' : `FAILED: ${[...o.lost, ...o.problems].join('; ')}`}`);
    } catch (e) {
      // The pair never got going (a VMM that does not start, a snapshot refused): say so,
      // go on with the next round, and stop after three in a row (the build is broken).
      const first = (e as Error).message.split('\n')[0];
      notRun.push(`round ${i + 1} (${r.fault.name}, ${r.disk}): ${first}`);
      log(`round ${i + 1}: could not run: ${(e as Error).message}`);
      if (++brokenInARow >= 3) break;
    }
  }
  process.stdout.write(`${table(outcomes, rng.seed, plan.skipped)}\n`);
  if (notRun.length) process.stdout.write(`rounds that could not run (counted as failed): ${notRun.length}\n${notRun.map((l) => `  ${l}`).join('\n')}\n`);
  return totals(outcomes).failedRounds === 0 && notRun.length === 0 ? 0 : 1;
}

main().then((code) => { process.exitCode = code; }, (e: Error) => { process.stderr.write(`torture: ${e.stack ?? e.message}\n`); process.exitCode = 2; });
