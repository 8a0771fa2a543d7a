/**
 * Fault injection between two real KVM machines (test/migration/fault-run.ts has the
 * checks every case must pass). The proxy breaks the stream at a chosen byte of a
 * chosen part; byte offsets inside each part come from a seeded generator (set
 * MIGRATION_FAULT_SEED to replay a run; the seed is in every test name).
 */
import { after, test } from 'node:test';
import { KvmSystem } from '../../src/kvm/system.js';
import { kvmSkipReason } from '../helpers/kvm.js';
import { runFaultCase, type FaultCase } from './fault-run.js';
import { describeFault, type Fault, type FaultAction, type FaultPoint } from './proxy.js';
import type { PartKind } from './stream-map.js';
import { SeededRandom } from '../helpers/seeded-random.js';

const skip = kvmSkipReason();
const opts = { skip, timeout: 30_000 };
const kvm = skip ? undefined : KvmSystem.open();
after(() => kvm?.close());

const SEED = Number(process.env.MIGRATION_FAULT_SEED ?? Date.now() % 1_000_000);

/** A whole number in [0, n), from the printed seed (the same mulberry32 sequence as before). */
const rng = new SeededRandom(SEED);
const random = (n: number): number => Math.floor(rng.next() * n);

/** Upper bounds for a random offset inside each part (offsets past a part's end are clamped to its last byte). */
const PART_SIZE: Record<PartKind, number> = {
  hello: 16, header: 80, memory: 16 + 16 + 256 * 4096 + 4, vcpu: 12_000, vm: 2_400, device: 120, end: 20, trailer: 32, commands: 14,
  // The 'loaded' line with verify hashes is 175 bytes: a fault further on would strike the
  // next reply ('started'), after 'go' left, where the source rightly stays paused.
  reply: 170,
};

function at(part: PartKind, extra: Partial<FaultPoint> = {}): FaultPoint {
  return { direction: part === 'reply' ? 'replies' : 'stream', part, offset: random(PART_SIZE[part]), ...extra };
}

const SECTION_PARTS: ReadonlySet<PartKind> = new Set(['memory', 'vcpu', 'vm', 'device', 'end']);
const LENGTH_FIELD = { from: 8, to: 16 };

/** Moves an offset that falls on a section's payload length field to the byte after it. */
function skipSectionLength(point: FaultPoint): FaultPoint {
  const onLength = SECTION_PARTS.has(point.part) && point.offset >= LENGTH_FIELD.from && point.offset < LENGTH_FIELD.to;
  return onLength ? { ...point, offset: LENGTH_FIELD.to } : point;
}

function fault(action: FaultAction, point: FaultPoint): Fault {
  return { at: point, action };
}

const cases: FaultCase[] = [];
const add = (f: Fault, expect: RegExp, destinationSays?: RegExp) => cases.push({ name: describeFault(f), fault: f, expect, destinationSays });

// Network failure (RST both ways) in every part of the stream, and before 'loaded' reaches the source.
for (const point of [
  at('hello'), at('header'), at('memory', { index: 0 }), at('memory', { index: 0, nth: 3 }), at('memory', { index: 1 }),
  at('memory', { index: 3 }), at('vcpu'), at('vm'), at('device'), at('end'), at('trailer'), at('reply', { index: 0 }),
]) add(fault({ kind: 'reset' }, point), /./);

// The peer goes away cleanly (FIN both ways).
for (const point of [at('hello'), at('memory', { index: 0 }), at('memory', { index: 2 }), at('vcpu'), at('trailer'), at('reply', { index: 0 })]) {
  add(fault({ kind: 'close' }, point), /./);
}

// The destination sees the stream end early (the source's side stays open). A socket
// that is not half-open closes both ways on the end, so the source learns no more than
// that; the destination names the truncation.
for (const point of [at('header'), at('memory', { index: 1 }), at('vm'), at('device'), { ...at('trailer'), offset: 31 }]) {
  add(fault({ kind: 'truncate' }, point), /./, /^incoming migration failed: migration stream (is truncated|ended)/);
}
add(fault({ kind: 'truncate' }, at('hello')), /./, /^incoming migration failed: the source closed the connection before its hello;/);

// One byte corrupted: the destination refuses, and the source says why.
add(fault({ kind: 'corrupt' }, { ...at('hello'), offset: random(8) }), /^the destination (refused the migration|could not load the VM): the incoming connection is not a cuju migration \(bad hello\)$/);
add(fault({ kind: 'corrupt', xor: 0x03 }, { ...at('hello'), offset: 8 }), /^the destination (refused the migration|could not load the VM): the source speaks migration protocol version 2, this cuju speaks 1: use the same cuju version on both hosts$/);
add(fault({ kind: 'corrupt', xor: 0x10 }, { ...at('hello'), offset: 12 }), /^the destination (refused the migration|could not load the VM): the source asked for unknown migration options \(flags 0x11\)$/);
// A section frame's payload length (bytes 8..15) is left out here: made larger, it can
// ask for more bytes than the stream has left, which is the idle-timeout case below.
for (const point of [at('header'), at('memory', { index: 0 }), at('memory', { index: 2 }), at('vcpu'), at('vm'), at('device'), at('end'), at('trailer')]) {
  add(fault({ kind: 'corrupt', xor: 1 << random(8) }, skipSectionLength(point)), /^the destination (refused the migration|could not load the VM): /);
}
// Its length made absurd (top bit of the u64): refused on the limit, before any waiting.
add(fault({ kind: 'corrupt', xor: 0x80 }, { direction: 'stream', part: 'vcpu', offset: 15 }), /^the destination (refused the migration|could not load the VM): /);
// Damage to the destination's 'loaded' reply (a hash digit, the JSON): the source refuses to go on.
add(fault({ kind: 'corrupt', xor: 0x01 }, { ...at('reply', { index: 0 }), offset: 40 + random(60) }), /verify failed|does not understand|malformed/);

// A section's length field made larger: the destination waits for bytes the source
// never sends, the source (VM frozen) waits for 'loaded'. Only the destination's idle
// timeout (2 s here) ends it; then the source resumes.
cases.push({
  name: 'corrupt xor 0x20 at stream device +9 (payload length +8 KiB)',
  fault: fault({ kind: 'corrupt', xor: 0x20 }, { direction: 'stream', part: 'device', offset: 9 }),
  expect: /./,
  destinationSays: /nothing heard from the source for 2 s/,
});

for (const c of cases) {
  test(`fault: ${c.name} (seed ${SEED})`, opts, async () => {
    await runFaultCase(kvm!, c);
  });
}
