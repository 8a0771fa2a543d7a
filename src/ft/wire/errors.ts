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

/**
 * The byte stream itself ended or failed (truncated inside a message, reset, read error):
 * what a peer that died leaves behind, unlike damage (CRC, SHA-256, sequence, MAC), which
 * only a live sender or the network can produce.
 */
export class FtStreamEndedError extends FtWireError {
  override readonly name = 'FtStreamEndedError';
}
