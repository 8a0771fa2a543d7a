/**
 * Where `migrate URI` sends the VM: `file:PATH` (a snapshot) or `tcp:HOST:PORT` (a live
 * migration to a VMM started with `-incoming tcp:...`). QEMU's syntax.
 */
import { parseHostPort } from '../cli/args/host-port.js';
import { MonitorCommandError } from '../monitor/errors.js';

export type MigrateTarget = { kind: 'file'; path: string } | { kind: 'tcp'; host: string; port: number };

/** `what` names the command or flag in error messages. */
export function parseMigrateUri(uri: string, what = 'migrate'): MigrateTarget {
  if (uri.startsWith('file:')) {
    const path = uri.slice('file:'.length);
    if (path === '') throw new MonitorCommandError("'file:' needs a path (e.g. migrate file:/tmp/vm.snap)");
    return { kind: 'file', path };
  }
  if (uri.startsWith('tcp:')) {
    try {
      const { host, port } = parseHostPort(uri.slice('tcp:'.length), what, 'tcp:127.0.0.1:4444');
      // QEMU's "every address" means nothing to a client: connect to this host then.
      return { kind: 'tcp', host: host === '0.0.0.0' ? '127.0.0.1' : host, port };
    } catch (e) {
      // The monitor's error carries no program name (a UsageError's message does).
      throw new MonitorCommandError((e as Error).message.replace(/^cuju: /, ''));
    }
  }
  throw new MonitorCommandError(`'${uri}' is not a supported migration URI (use tcp:HOST:PORT or file:PATH)`);
}
