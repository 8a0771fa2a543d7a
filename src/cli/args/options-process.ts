/** -daemonize, -pidfile, -incoming, and the fault-tolerance flags. */
import type { OptionSpec } from './option-spec.js';
import { parseIncoming } from './incoming.js';
import { parseHeartbeat } from './ft-heartbeat.js';
import { checkStandbyUri } from '../../ft/standby.js';
import { UsageError } from './usage-error.js';
import { FtKeyFileError, readFtKeyFile } from '../../ft/key-file.js';
import { parseFtLeaseOption } from './ft-lease-option.js';

const PROCESS = 'Process and migration';
const FT = 'Cuju fault tolerance';

export const PROCESS_OPTIONS: readonly OptionSpec[] = [
  {
    names: ['daemonize'],
    group: PROCESS,
    help: 'detach from the terminal once the VM is set up',
    apply(state) {
      state.daemonize = true;
    },
  },
  {
    names: ['pidfile'],
    arg: 'PATH',
    example: '/run/vm1.pid',
    group: PROCESS,
    help: 'write the VMM process id to PATH',
    apply(state, value) {
      state.pidfile = value;
    },
  },
  {
    names: ['incoming'],
    arg: 'URI',
    example: 'tcp:0:4441,ft_mode',
    group: PROCESS,
    help: 'wait for incoming state: tcp:HOST:PORT[,ft_mode] (Cuju backup) | file:PATH | defer',
    apply(state, value) {
      state.incoming = { raw: value, spec: parseIncoming(value) };
    },
  },
  {
    names: ['ft-heartbeat'],
    arg: 'PERIOD[,timeout=T]',
    example: '10ms,timeout=100ms',
    group: FT,
    help: 'primary/backup heartbeat period and the silence after which the peer is lost (default 50ms,timeout=500ms)',
    apply(state, value) {
      state.ft.heartbeat = parseHeartbeat(value);
    },
  },
  {
    names: ['ft-key'],
    arg: 'FILE',
    example: '/etc/cuju/ft.key',
    group: FT,
    help: 'shared key file (at least 16 bytes): replication peers must prove they hold the same one',
    apply(state, value) {
      // Read now: a missing or short key is a startup error, not a failed pairing later.
      try {
        state.ft.key = readFtKeyFile(value);
      } catch (e) {
        if (e instanceof FtKeyFileError) throw new UsageError(e.message);
        throw e;
      }
      state.ft.keyFile = value;
    },
  },
  {
    names: ['ft-standby'],
    arg: 'tcp:HOST:PORT',
    example: 'tcp:10.0.0.3:4441',
    group: FT,
    help: 'a VMM waiting with -incoming tcp:0:PORT,ft_mode: the VM is re-protected there automatically after a failover or a lost backup',
    apply(state, value) {
      try {
        state.ft.standby = checkStandbyUri(value);
      } catch (e) {
        throw new UsageError(`-ft-standby: ${(e as Error).message.replace(/^the standby: /, '')}`);
      }
    },
  },
  {
    names: ['ft-lease'],
    arg: 'PATH[,ttl=MS]',
    example: '/mnt/nfs/vm1.lease,ttl=5000',
    group: FT,
    help: 'split-brain lease file on storage both hosts reach (default with a share-rw disk: IMAGE.cuju-lease)',
    apply(state, value) {
      parseFtLeaseOption(value); // errors now, as one line; the VMM opens it at start
      state.ft.lease = value;
    },
  },
];
