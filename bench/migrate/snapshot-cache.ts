/**
 * A booted guest, prepared by a few shell commands, saved with `migrate file:`, so that repeated benchmark runs
 * start in about a second (`cuju -incoming file:PATH`) instead of a 2-3 minute boot on
 * kvm_pvm hosts. The file name is a hash of everything the snapshot depends on: the
 * kernel and initramfs bytes, the VM's flags and the preparing commands. A VMM whose snapshot format changed
 * refuses the file; the benchmark then boots and overwrites it.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';

export interface SnapshotKeyInputs {
  kernel: string;
  initrd: string;
  memoryMiB: number;
  cpus: number;
  append: string;
  /** The shell commands run in the booted guest before it was saved. */
  setup: string;
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Hex key of a snapshot of a guest booted from these inputs. */
export async function snapshotKey(inputs: SnapshotKeyInputs): Promise<string> {
  const h = createHash('sha256');
  h.update(`kernel ${await hashFile(inputs.kernel)}\n`);
  h.update(`initrd ${await hashFile(inputs.initrd)}\n`);
  h.update(`-m ${inputs.memoryMiB} -smp ${inputs.cpus} -append ${inputs.append}\n`);
  h.update(`setup ${inputs.setup}\n`);
  return h.digest('hex');
}

export function snapshotPath(cacheDir: string, key: string): string {
  return join(cacheDir, `migrate-guest-${key.slice(0, 16)}.cuju`);
}
