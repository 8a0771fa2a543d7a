/**
 * -incoming URI: where this VM receives its state from. Cuju's backup is
 * started with `-incoming tcp:0:4441,ft_mode`; plain QEMU forms are
 * `tcp:HOST:PORT`, `file:PATH` and `defer`.
 */
import type { IncomingSpec } from './vm-config.js';
import { parseHostPort } from './host-port.js';
import { UsageError } from './usage-error.js';

const FLAG = '-incoming';

export function parseIncoming(uri: string): IncomingSpec {
  if (uri === 'defer') return { kind: 'defer' };
  if (uri.startsWith('file:')) {
    const path = uri.slice('file:'.length);
    if (path === '') throw new UsageError(`${FLAG}: 'file:' needs a path (e.g. -incoming file:/tmp/vm.state)`);
    return { kind: 'file', path };
  }
  if (uri.startsWith('tcp:')) {
    const [address, ...options] = uri.slice('tcp:'.length).split(',');
    const { host, port } = parseHostPort(address, FLAG, '-incoming tcp:0:4441');
    let ftMode = false;
    for (const option of options) {
      if (option === 'ft_mode') ftMode = true;
      else throw new UsageError(`${FLAG}: unknown option '${option}' in '${uri}' (only ft_mode is known)`);
    }
    return { kind: 'tcp', host, port, ftMode };
  }
  throw new UsageError(`${FLAG}: '${uri}' is not a supported URI (use tcp:HOST:PORT[,ft_mode], file:PATH or defer)`);
}
