/** -daemonize, -pidfile, -incoming, and the reserved fault-tolerance flags. */
import type { OptionSpec } from './option-spec.js';
import { parseIncoming } from './incoming.js';

const PROCESS = 'Process and migration';
const FT = 'Cuju fault tolerance (reserved)';

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
    help: 'primary/backup heartbeat period and failure timeout (kept raw for now)',
    apply(state, value) {
      state.ft.heartbeat = value;
      state.note('-ft-heartbeat: reserved for fault tolerance; not used yet');
    },
  },
  {
    names: ['ft-key'],
    arg: 'FILE',
    example: '/etc/cuju/ft.key',
    group: FT,
    help: 'shared key file for the replication channel',
    apply(state, value) {
      state.ft.keyFile = value;
      state.note('-ft-key: reserved for fault tolerance; not used yet');
    },
  },
  {
    names: ['ft-lease'],
    arg: 'PATH',
    example: '/mnt/nfs/vm1.lease',
    group: FT,
    help: 'lease that decides which side may run after a failure (kept raw for now)',
    apply(state, value) {
      state.ft.lease = value;
      state.note('-ft-lease: reserved for fault tolerance; not used yet');
    },
  },
];
