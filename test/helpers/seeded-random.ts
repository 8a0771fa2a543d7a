/**
 * A small seeded pseudo-random generator (mulberry32) for failure tests: every random
 * choice of a run (kill delays, fault kinds) comes from one printed seed, so a failing
 * run is replayed by setting the seed again.
 */
export class SeededRandom {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  /** A seed from the environment variable `name`, or a fresh one. */
  static fromEnv(name: string): SeededRandom {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return new SeededRandom(Math.floor(Math.random() * 2 ** 32));
    const seed = Number(raw);
    if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) throw new RangeError(`${name} must be a whole number 0..4294967295, got '${raw}'`);
    return new SeededRandom(seed);
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A whole number in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
}
