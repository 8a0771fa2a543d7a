/**
 * -m [size=]SIZE: guest RAM in QEMU's size syntax (a bare number is MiB).
 * Memory hot-plug (slots=, maxmem=) is not supported.
 */
import { parseKeyValue, rejectUnknownKeys } from './key-value.js';
import { parseSizeMiB } from './size.js';
import { MAX_MEMORY_MIB, MIN_MEMORY_MIB } from './vm-config.js';
import { UsageError } from './usage-error.js';

const FLAG = '-m';

export function parseMemoryMiB(text: string): number {
  const list = parseKeyValue(text, { impliedKey: 'size', flag: FLAG });
  if (list.has('slots') || list.has('maxmem')) {
    throw new UsageError(`${FLAG}: memory hot-plug (slots=, maxmem=) is not supported (give only the size, e.g. -m 1G)`);
  }
  rejectUnknownKeys(list, ['size'], FLAG, '-m');
  const sizeText = list.get('size');
  if (sizeText === undefined) throw new UsageError(`${FLAG}: '${text}' gives no size (use e.g. -m 256 or -m 1G)`);
  const size = parseSizeMiB(sizeText);
  if (!size.ok) {
    const why = size.reason === 'fraction' ? 'not a whole number of MiB' : 'not a size';
    throw new UsageError(`${FLAG}: '${sizeText}' is ${why} (use e.g. -m 256 or -m 1G)`);
  }
  if (size.mib < MIN_MEMORY_MIB) {
    throw new UsageError(`${FLAG}: ${size.mib} MiB is too little for a guest (use at least -m ${MIN_MEMORY_MIB})`);
  }
  if (size.mib > MAX_MEMORY_MIB) {
    throw new UsageError(
      `${FLAG}: ${size.mib} MiB is above cuju's limit of ${MAX_MEMORY_MIB} MiB (RAM below the 3 GiB MMIO hole only; use at most -m 3G)`,
    );
  }
  return size.mib;
}
