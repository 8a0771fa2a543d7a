/**
 * -ft-key FILE: the shared key both sides of a fault-tolerance pair prove they hold
 * (src/migration/auth.ts). The key is the file's bytes, whatever they are; at least 16
 * (128 bits, HMAC-SHA256's security needs no more but a shorter file is a mistake).
 */
import { readFileSync } from 'node:fs';

export const MIN_KEY_BYTES = 16;
export const MAX_KEY_BYTES = 64 * 1024;

/** A key file that is missing, unreadable, too short or too long; the message names the fix. */
export class FtKeyFileError extends Error {
  override readonly name = 'FtKeyFileError';
}

const howToMake = (path: string) => `create one with 'head -c 32 /dev/urandom > ${path}' and copy it to both hosts`;

export function readFtKeyFile(path: string): Buffer {
  let key: Buffer;
  try {
    key = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FtKeyFileError(`-ft-key ${path}: no such file: ${howToMake(path)}`);
    if (code === 'EACCES') throw new FtKeyFileError(`-ft-key ${path}: permission denied: make it readable by the user running cuju`);
    if (code === 'EISDIR') throw new FtKeyFileError(`-ft-key ${path} is a directory: give the key file itself`);
    throw new FtKeyFileError(`-ft-key ${path}: cannot read it (${(e as Error).message})`);
  }
  if (key.length < MIN_KEY_BYTES) throw new FtKeyFileError(`-ft-key ${path} holds ${key.length} bytes, a key needs at least ${MIN_KEY_BYTES}: ${howToMake(path)}`);
  if (key.length > MAX_KEY_BYTES) throw new FtKeyFileError(`-ft-key ${path} holds ${key.length} bytes, more than a key file should (at most ${MAX_KEY_BYTES}): is it the right file?`);
  return key;
}
