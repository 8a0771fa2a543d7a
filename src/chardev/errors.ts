/** A character device could not be opened: the message names the problem and the fix. */
export class ChardevError extends Error {
  override readonly name = 'ChardevError';
}
