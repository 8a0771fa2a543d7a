/**
 * QEMU's size syntax for -m: a number (fractions allowed) with an optional
 * suffix B, K, M, G, T (either case; powers of 1024). A number without a
 * suffix means MiB for -m, as in QEMU. The VMM sizes memory in whole MiB.
 */
const SUFFIX_BYTES: Record<string, number> = {
  B: 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
};

const SIZE_PATTERN = /^(\d+(?:\.\d+)?|\.\d+)([bkmgtBKMGT])?$/;

export type SizeResult =
  | { ok: true; mib: number }
  | { ok: false; reason: 'syntax' | 'fraction' };

/** Parses `text` to whole MiB; a result that is not whole MiB is reported, not rounded. */
export function parseSizeMiB(text: string): SizeResult {
  const match = SIZE_PATTERN.exec(text);
  if (!match) return { ok: false, reason: 'syntax' };
  const number = Number(match[1]);
  const unit = SUFFIX_BYTES[(match[2] ?? 'M').toUpperCase()];
  const bytes = number * unit;
  const mib = bytes / SUFFIX_BYTES.M;
  if (!Number.isFinite(mib)) return { ok: false, reason: 'syntax' };
  if (!Number.isInteger(mib)) return { ok: false, reason: 'fraction' };
  return { ok: true, mib };
}
