/** Errors a user can cause with network options; each message names the problem and the fix. */

/** A MAC address that cannot be used for a NIC (bad syntax, multicast). */
export class BadMacError extends Error {
  override readonly name = 'BadMacError';
}

/** The tap back end could not be opened or configured. */
export class TapError extends Error {
  override readonly name = 'TapError';
}
