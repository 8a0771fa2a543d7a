/** SHA-256 of a whole image: how the two sides prove a read-only disk holds the same bytes. */
import { createHash } from 'node:crypto';
import type { BlockBackend } from '../../block/backend.js';

const BLOCK = 1024 * 1024;

export async function imageSha256(image: BlockBackend): Promise<Uint8Array> {
  const hash = createHash('sha256');
  const buffer = image.acquire(BLOCK);
  try {
    for (let offset = 0; offset < image.sizeBytes; offset += BLOCK) {
      const block = buffer.subarray(0, Math.min(BLOCK, image.sizeBytes - offset));
      await image.read(offset, block);
      hash.update(block);
    }
  } finally {
    image.release(buffer);
  }
  return new Uint8Array(hash.digest());
}
