/**
 * Keys for cached snapshots (the test library's and `npm start`'s "boot once, then
 * restore"): a snapshot is only reused while the guest images, the recipe and the VMM
 * code that defines machine and device state are the ones it was made with.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Compiled modules whose change makes older snapshots suspect (machine layout, state formats). */
const STATE_MODULES = ['../vm/machine.js', './format.js', '../devices/virtio/state.js', '../devices/serial/state.js', '../devices/virtio-net/state.js'];

export function snapshotCacheKey(images: readonly string[], recipe: string): string {
  const h = createHash('sha256');
  // Images are large: their identity is path, size and modification time.
  for (const f of images) {
    const st = statSync(f);
    h.update(`${f}:${st.size}:${st.mtimeMs}\n`);
  }
  h.update(recipe);
  for (const m of STATE_MODULES) {
    const p = fileURLToPath(new URL(m, import.meta.url));
    if (existsSync(p)) h.update(readFileSync(p));
  }
  return h.digest('hex').slice(0, 16);
}
