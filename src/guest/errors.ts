/**
 * Errors of the guest builder. Each names what went wrong and what to do about it,
 * so `npm run guest` can print the message and exit without a stack trace.
 */
export class GuestBuildError extends Error {
  override readonly name: string = 'GuestBuildError';
}

/** A command the builder ran failed; `logFile` holds its full output when it was logged. */
export class CommandFailedError extends GuestBuildError {
  override readonly name = 'CommandFailedError';
}

/** The merged kernel .config lacks options the fragment asks for (Kconfig dropped them). */
export class KernelConfigMismatchError extends GuestBuildError {
  override readonly name = 'KernelConfigMismatchError';
}
