/** -h, -version, -m, -smp, -name: what the VM is. */
import type { OptionSpec } from './option-spec.js';
import { parseKeyValue, rejectUnknownKeys } from './key-value.js';
import { parseMemoryMiB } from './memory-option.js';
import { parseSmp } from './smp.js';
import { UsageError } from './usage-error.js';
import { DEFAULT_MEMORY_MIB, MAX_CPUS, MAX_MEMORY_MIB, MIN_MEMORY_MIB } from './vm-config.js';

const GROUP = 'Standard options';

export const STANDARD_OPTIONS: readonly OptionSpec[] = [
  {
    names: ['h', 'help'],
    group: GROUP,
    help: 'print this help and exit',
    apply: () => 'help',
  },
  {
    names: ['version'],
    group: GROUP,
    help: 'print the version and exit',
    apply: () => 'version',
  },
  {
    names: ['m'],
    arg: '[size=]SIZE',
    example: '256',
    group: GROUP,
    help: `guest RAM: MiB, or with suffix K/M/G (default ${DEFAULT_MEMORY_MIB}, ${MIN_MEMORY_MIB}..${MAX_MEMORY_MIB} MiB)`,
    apply(state, value) {
      state.memoryMiB = parseMemoryMiB(value);
    },
  },
  {
    names: ['smp'],
    arg: '[cpus=]N[,sockets=S][,cores=C][,threads=T]',
    example: '2',
    group: GROUP,
    help: `number of vCPUs, 1..${MAX_CPUS} (default 1)`,
    apply(state, value) {
      const { cpus, topology } = parseSmp(value);
      state.cpus = cpus;
      state.topology = topology;
    },
  },
  {
    names: ['name'],
    arg: '[guest=]NAME',
    example: 'vm1',
    group: GROUP,
    help: 'name of the guest (shown by the monitors)',
    apply(state, value) {
      const flag = '-name';
      const list = parseKeyValue(value, { impliedKey: 'guest', flag });
      rejectUnknownKeys(list, ['guest', 'process', 'debug-threads'], flag, '-name');
      const guest = list.get('guest');
      if (!guest) throw new UsageError(`${flag}: '${value}' gives no name (use e.g. -name vm1)`);
      state.name = guest;
      if (list.has('process') || list.has('debug-threads')) {
        state.note('-name: process= and debug-threads= are not used; only the guest name is');
      }
    },
  },
];
