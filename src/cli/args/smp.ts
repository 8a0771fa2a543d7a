/**
 * -smp [cpus=]N[,sockets=S][,cores=C][,threads=T][,maxcpus=M], with QEMU's
 * rules: a missing count is derived from the others, and the topology must
 * hold exactly the CPUs. CPU hot-plug (maxcpus above cpus) is not supported.
 */
import type { CpuTopology } from './vm-config.js';
import { MAX_CPUS } from './vm-config.js';
import { parseKeyValue, rejectUnknownKeys, type KeyValueList } from './key-value.js';
import { UsageError } from './usage-error.js';

const FLAG = '-smp';

export function parseSmp(text: string): { cpus: number; topology: CpuTopology } {
  const list = parseKeyValue(text, { impliedKey: 'cpus', flag: FLAG });
  rejectUnknownKeys(list, ['cpus', 'sockets', 'cores', 'threads', 'maxcpus'], FLAG, '-smp');
  const cpusGiven = count(list, 'cpus');
  let sockets = count(list, 'sockets');
  let cores = count(list, 'cores');
  let threads = count(list, 'threads');
  const maxcpus = count(list, 'maxcpus');

  // QEMU fills in what is missing: threads and cores default to 1, sockets to
  // whatever is left over.
  threads ??= 1;
  cores ??= 1;
  const total = maxcpus ?? cpusGiven;
  sockets ??= total !== undefined ? Math.max(1, Math.floor(total / (cores * threads))) : 1;
  const product = sockets * cores * threads;
  const cpus = cpusGiven ?? maxcpus ?? product;

  if (cpus < 1 || cpus > MAX_CPUS) {
    throw new UsageError(`${FLAG}: ${cpus} CPUs is out of range (use 1 to ${MAX_CPUS}, e.g. -smp 2)`);
  }
  if (maxcpus !== undefined && maxcpus !== cpus) {
    throw new UsageError(`${FLAG}: CPU hot-plug is not supported (drop maxcpus= or make it equal to cpus)`);
  }
  if (product !== cpus) {
    throw new UsageError(
      `${FLAG}: sockets*cores*threads = ${sockets}*${cores}*${threads} = ${product} does not match ${cpus} CPUs (make the product equal cpus)`,
    );
  }
  return { cpus, topology: { sockets, cores, threads } };
}

function count(list: KeyValueList, key: string): number | undefined {
  const text = list.get(key);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new UsageError(`${FLAG}: ${key}='${text}' is not a positive whole number (e.g. -smp ${key}=2)`);
  }
  return Number(text);
}
