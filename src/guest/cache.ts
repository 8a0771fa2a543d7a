/**
 * Content-hash caching of build outputs: an output is rebuilt only when the hash of
 * everything it is made from changes. The hash is stored in a stamp file next to
 * the outputs (guest/out/<name>.sha256).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Accumulates labelled inputs; labels keep "a"+"bc" distinct from "ab"+"c". */
export class InputHash {
  private readonly hash = createHash('sha256');

  add(label: string, content: string | Buffer): this {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    this.hash.update(`${label}\0${bytes.length}\0`);
    this.hash.update(bytes);
    return this;
  }

  async addFile(label: string, path: string): Promise<this> {
    return this.add(label, await readFile(path));
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

export function stampPath(outDir: string, name: string): string {
  return join(outDir, `${name}.sha256`);
}

/** True when every output exists and the stamp records `hash`. */
export async function isUpToDate(outDir: string, name: string, hash: string, outputs: readonly string[]): Promise<boolean> {
  if (!outputs.every((o) => existsSync(o))) return false;
  try {
    return (await readFile(stampPath(outDir, name), 'utf8')).trim() === hash;
  } catch {
    return false;
  }
}

/** Records that the outputs of `name` were built from `hash` (write after the outputs). */
export async function writeStamp(outDir: string, name: string, hash: string): Promise<void> {
  await writeFile(stampPath(outDir, name), `${hash}\n`);
}
