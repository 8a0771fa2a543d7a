/**
 * A mistake on the command line. The message is one line that names the flag
 * and says how to fix it; main prints it as-is and exits with status 1, so no
 * stack trace reaches the user.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';

  constructor(message: string) {
    super(message.startsWith('cuju: ') ? message : `cuju: ${message}`);
  }
}
