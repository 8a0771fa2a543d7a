/**
 * The one error a snapshot reader or writer reports: a snapshot that is not ours, from
 * a newer cuju, damaged, truncated, or of a different machine. One line, naming the
 * problem and what to do about it.
 */
export class SnapshotError extends Error {
  override readonly name = 'SnapshotError';
}
