/** Errors of the output-commit layer, each naming the problem and what to do about it. */

/** The FT engine drove a gate out of order (epochs must only go forward, holding must be started first). */
export class OutputGateError extends Error {
  override readonly name = 'OutputGateError';
}

/** A batch of disk writes received from the peer is malformed; nothing of it was applied. */
export class DiskReplayError extends Error {
  override readonly name = 'DiskReplayError';
}
