/**
 * Which rounds a torture run does: the fault kinds this build can run (the others are
 * listed with the reason), cycled so every kind comes up, in a seeded random order, each
 * with a random disk mode.
 */
import type { DiskMode } from '../../src/guest/harness/kv-guest.js';
import type { SeededRandom } from '../helpers/seeded-random.js';
import { ALL_FAULTS, faultByName } from './faults/index.js';
import type { FaultKind } from './faults/fault.js';
import type { FtFeatures } from './ft-features.js';

export interface PlannedRound {
  fault: FaultKind;
  disk: DiskMode;
}

export interface Plan {
  rounds: PlannedRound[];
  /** "name: why" of every asked-for kind that cannot run here. */
  skipped: string[];
}

/** `only`: comma-separated fault names (default: all kinds). */
export function planRounds(count: number, rng: SeededRandom, features: FtFeatures, only = ''): Plan {
  const asked = only.trim() ? only.split(',').map((s) => faultByName(s.trim())) : [...ALL_FAULTS];
  const runnable = asked.filter((f) => !f.unavailable(features));
  const skipped = asked.filter((f) => f.unavailable(features)).map((f) => `${f.name}: ${f.unavailable(features)}`);
  const rounds: PlannedRound[] = [];
  if (runnable.length === 0) return { rounds, skipped };
  // Every kind once per cycle, shuffled per cycle, so short runs still cover the kinds.
  while (rounds.length < count) {
    const cycle = [...runnable];
    for (let i = cycle.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [cycle[i], cycle[j]] = [cycle[j], cycle[i]];
    }
    for (const fault of cycle) if (rounds.length < count) rounds.push({ fault, disk: rng.pick(['replicated', 'shared'] as const) });
  }
  return { rounds, skipped };
}
