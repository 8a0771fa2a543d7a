/**
 * Where the backup VMM's resident memory goes, from the `cuju-ft-mem` lines
 * backup-trace.ts prints: V8's heap and ArrayBuffer memory (process.memoryUsage()) and
 * how much of guest RAM is resident (mincore). With /proc's split (process-memory.ts)
 * that leaves what Node, V8 and the C heap cost beyond guest RAM: guest RAM the backup
 * never wrote is not resident at all.
 */
/** process.memoryUsage() and V8's new space, as the backup printed them (bytes). */
export interface JsMemory {
  wallMs: number;
  rss: number;
  heapTotal: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  newSpace: number;
  /** Guest RAM resident, bytes (undefined before the first epoch). */
  guestRam?: number;
}

export function parseJsMemory(stderr: string): JsMemory[] {
  return [...stderr.matchAll(/^cuju-ft-mem (\d+(?:\.\d+)?) rss=(\d+) heap=(\d+) used=(\d+) ext=(\d+) ab=(\d+) new=(\d+) ram=(-?\d+)$/gm)].map((m) => ({
    wallMs: Number(m[1]), rss: Number(m[2]), heapTotal: Number(m[3]), heapUsed: Number(m[4]),
    external: Number(m[5]), arrayBuffers: Number(m[6]), newSpace: Number(m[7]),
    guestRam: Number(m[8]) < 0 ? undefined : Number(m[8]),
  }));
}

/** Each figure's maximum over the samples taken between `from` and `to` (wall ms). */
export function maxJsMemory(samples: readonly JsMemory[], from: number, to: number): Omit<JsMemory, 'wallMs'> | undefined {
  const inside = samples.filter((s) => s.wallMs >= from && s.wallMs <= to);
  if (inside.length === 0) return undefined;
  const max = (k: Exclude<keyof JsMemory, 'wallMs'>) => Math.max(...inside.map((s) => s[k] ?? 0));
  return {
    rss: max('rss'), heapTotal: max('heapTotal'), heapUsed: max('heapUsed'), external: max('external'),
    arrayBuffers: max('arrayBuffers'), newSpace: max('newSpace'), guestRam: max('guestRam'),
  };
}
