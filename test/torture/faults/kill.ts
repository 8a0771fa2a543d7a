/** kill -9 of the primary (the backup must take over) or of the backup (the primary runs on unprotected). */
import type { FaultKind } from './fault.js';

export const killPrimary: FaultKind = {
  name: 'kill-primary',
  unavailable: () => false,
  needs: {},
  survivor: 'backup',
  inject: async ({ pair, note }) => {
    pair.primary.signal('SIGKILL');
    note(`kill -9 primary (pid ${pair.primary.pid})`);
  },
};

export const killBackup: FaultKind = {
  name: 'kill-backup',
  unavailable: () => false,
  needs: {},
  survivor: 'primary',
  inject: async ({ pair, note }) => {
    pair.backup.signal('SIGKILL');
    note(`kill -9 backup (pid ${pair.backup.pid})`);
  },
};
