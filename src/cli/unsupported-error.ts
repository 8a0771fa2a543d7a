/** A flag the parser accepts for compatibility whose feature this build lacks. */
export class UnsupportedError extends Error {
  override readonly name = 'UnsupportedError';
}
