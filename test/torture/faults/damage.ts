/**
 * Damaged epochs (a relay on the replication path, ../epoch-relay.ts): one byte flipped
 * at a random place of the epoch stream, or the stream cut off mid-epoch towards the
 * backup. The backup must never apply a damaged or partial epoch; afterwards exactly one
 * VM serves, with every acknowledged answer and write.
 */
import { sleep, type FaultContext, type FaultKind } from './fault.js';

async function damage(kind: 'corrupt' | 'truncate', { relay, rng, note }: FaultContext): Promise<void> {
  const after = rng.int(0, 256 * 1024);
  relay!.arm(kind, after, rng.int(1, 255));
  note(`${kind} the epoch stream ${after} bytes after byte ${relay!.forwarded}`);
  for (let i = 0; i < 100 && !relay!.fired; i++) await sleep(50);
  note(relay!.fired ? `${kind} done at stream byte ${relay!.firedAt}` : `${kind} did not fire within 5 s (the stream was quiet)`);
}

export const corruptEpoch: FaultKind = {
  name: 'corrupt-epoch',
  unavailable: () => false,
  needs: { relay: true },
  survivor: 'either',
  inject: (ctx) => damage('corrupt', ctx),
};

export const truncateEpoch: FaultKind = {
  name: 'truncate-epoch',
  unavailable: () => false,
  needs: { relay: true },
  survivor: 'either',
  inject: (ctx) => damage('truncate', ctx),
};
