/**
 * One kind of failure the torture suite injects into a protected pair, with what the
 * design promises afterwards. Each kind is a small module; the round (round.ts) builds
 * what a kind needs (a relay on the replication path, the backup in its own network
 * namespace, extra flags), starts the client, waits a random time, injects, and checks
 * the promise.
 */
import { join } from 'node:path';
import type { BackupNamespace } from '../../helpers/backup-netns.js';
import type { FtVm } from '../../../src/guest/harness/ft-vm.js';
import type { RunDisks } from '../../../src/guest/harness/kv-guest.js';
import type { KvPair } from '../../../src/guest/harness/kv-pair.js';
import type { TestNetwork } from '../../helpers/netns.js';
import type { SeededRandom } from '../../helpers/seeded-random.js';
import type { EpochRelay } from '../epoch-relay.js';
import type { FtFeatures } from '../ft-features.js';

export interface FaultContext {
  net: TestNetwork;
  pair: KvPair;
  relay?: EpochRelay;
  backupNs?: BackupNamespace;
  rng: SeededRandom;
  /** The round's folder (for more disk images) and disks. */
  dir: string;
  disks: RunDisks;
  /** The flags and heartbeat settings the pair got (a VMM a fault starts gets them too). */
  ftArgs: string[];
  heartbeat?: { periodMs: number; timeoutMs: number };
  /** A line for the round's log (what exactly was done). */
  note(line: string): void;
  /** A VMM the fault started (with its disk image): counted and checked like the pair's. */
  addVm(vm: FtVm, image: string): void;
}

/** Which VM must be the one serving after the fault: one by label, or any (but exactly one). */
export type Survivor = 'primary' | 'backup' | 'either' | (string & {});

export interface FaultKind {
  readonly name: string;
  /** Why it cannot run with these features (a missing detection mechanism), or false. */
  unavailable(features: FtFeatures): string | false;
  /** What the round must set up for it. */
  readonly needs: { relay?: boolean; backupNamespace?: boolean; /** Taps on the test bridge (2 by default: primary, backup). */ taps?: number };
  readonly survivor: Survivor;
  /** The client must talk at least this long for the fault to play out (seconds). */
  readonly clientSeconds?: number;
  /** Injects the fault (returns once it is in place; the client keeps talking). */
  inject(ctx: FaultContext): Promise<void>;
  /** After the client finished: undo what must be undone before counting who serves (SIGCONT, heal a link). */
  settle?(ctx: FaultContext): Promise<void>;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The round's lease file (-ft-lease), in the round's folder. */
export const leasePath = (dir: string): string => join(dir, 'ft.lease');
