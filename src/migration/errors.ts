/** Errors of a migration session; their messages are what `info migrate` shows. */
export class MigrationProtocolError extends Error {
  override readonly name = 'MigrationProtocolError';
}

export class MigrationCancelledError extends Error {
  override readonly name = 'MigrationCancelledError';
  constructor() {
    super('migration cancelled');
  }
}
