/**
 * QEMU's `HOST:PORT` address syntax (as in `tcp:0:4441` or `tcp::4444`).
 * An empty host or `0` is QEMU's "every address"; here it becomes 0.0.0.0 so
 * the listener gets an explicit address. IPv6 hosts go in brackets: `[::1]:4444`.
 */
import { UsageError } from './usage-error.js';

export const ANY_IPV4 = '0.0.0.0';

export interface HostPort {
  host: string;
  port: number;
}

export function parseHostPort(text: string, flag: string, example: string): HostPort {
  const colon = text.lastIndexOf(':');
  if (colon < 0) {
    throw new UsageError(`${flag}: '${text}' has no port (use HOST:PORT, e.g. ${example})`);
  }
  let host = text.slice(0, colon);
  const portText = text.slice(colon + 1);
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  else if (host.includes(':')) {
    throw new UsageError(`${flag}: put the IPv6 address in '${text}' in brackets (e.g. [::1]:4444)`);
  }
  if (host === '' || host === '0') host = ANY_IPV4;
  return { host, port: parsePort(portText, flag, example) };
}

export function parsePort(text: string, flag: string, example: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65535)) {
    throw new UsageError(`${flag}: '${text}' is not a TCP port 1-65535 (e.g. ${example})`);
  }
  return port;
}
