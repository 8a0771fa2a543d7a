/**
 * What can go wrong with the split-brain lease. Each message names the lease and the fix;
 * the FT controller turns them into monitor errors or clean exits.
 */

/** The lease cannot be read or written: missing folder, no permission, storage not answering. */
export class LeaseUnreachableError extends Error {
  override readonly name = 'LeaseUnreachableError';
}

/** The lease path holds something that is not a cuju lease (refused, never overwritten). */
export class LeaseFormatError extends Error {
  override readonly name = 'LeaseFormatError';
}

/** Another live VMM holds the lease and keeps renewing it. */
export class LeaseHeldError extends Error {
  override readonly name = 'LeaseHeldError';
}

/** This VMM held the lease and a newer fencing token replaced it: it may never emit again. */
export class LeaseFencedError extends Error {
  override readonly name = 'LeaseFencedError';
}
