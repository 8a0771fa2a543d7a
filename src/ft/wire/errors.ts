/**
 * Errors of the fault-tolerance channel. FtWireError: a message that is damaged,
 * truncated, out of sequence or otherwise not what the protocol allows (the connection
 * is useless after it). FtPeerMismatchError: the peer's HELLO describes another cuju
 * version, role or machine; the message names both values and what to change.
 */
export class FtWireError extends Error {
  override readonly name: string = 'FtWireError';
}

/** A frame whose -ft-key authentication tag is wrong: forged, altered, or from a peer with another key. */
export class FtAuthError extends FtWireError {
  override readonly name = 'FtAuthError';
}

export class FtPeerMismatchError extends FtWireError {
  override readonly name = 'FtPeerMismatchError';
}
