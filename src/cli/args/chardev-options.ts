/**
 * Turns the two chardev syntaxes into ChardevSpec:
 * - `-chardev BACKEND,id=ID,...` (QemuOpts with implied key `backend`);
 * - the legacy one-string form used by -serial, -monitor and -qmp
 *   (`stdio`, `pty`, `null`, `none`, `unix:PATH,server,nowait`,
 *   `tcp:HOST:PORT,server,nowait`, `chardev:ID`), as QEMU's
 *   qemu_chr_parse_compat reads it.
 * Only what the VMM can back is accepted: listening sockets, stdio, pty, null.
 */
import type { ChardevSpec } from './chardev-spec.js';
import { parseHostPort, parsePort } from './host-port.js';
import { boolOption, KeyValueList, parseKeyValue, rejectUnknownKeys } from './key-value.js';
import { UsageError } from './usage-error.js';

const SOCKET_KEYS = ['path', 'host', 'port', 'server', 'wait', 'delay'];
const SOCKET_EXAMPLE = 'unix:/tmp/vm1.sock,server,nowait';

/** A named chardev from -chardev. */
export interface NamedChardev {
  id: string;
  spec: ChardevSpec;
}

/** What a legacy chardev string names. */
export type LegacyChardev =
  | { kind: 'spec'; spec: ChardevSpec }
  /** `none`: no device at all (e.g. -serial none, -monitor none). */
  | { kind: 'none' }
  /** `chardev:ID`: a -chardev defined elsewhere on the command line. */
  | { kind: 'ref'; id: string };

/** A legacy chardev that names an actual device (not `none`). */
export type ChardevTarget = Exclude<LegacyChardev, { kind: 'none' }>;

export function parseChardevOption(text: string): NamedChardev {
  const flag = '-chardev';
  const list = parseKeyValue(text, { impliedKey: 'backend', flag });
  const backend = list.get('backend');
  const id = list.get('id');
  if (!backend) {
    throw new UsageError(`${flag}: '${text}' names no backend (e.g. -chardev socket,id=mon,path=/tmp/m.sock,server=on,wait=off)`);
  }
  if (!id) {
    throw new UsageError(`${flag}: '${text}' has no id (add id=NAME so -mon/-serial can refer to it)`);
  }
  if (list.has('mux')) {
    throw new UsageError(`${flag}: mux is not supported (give each user its own chardev)`);
  }
  const rest = withoutKeys(list, ['backend', 'id']);
  switch (backend) {
    case 'socket':
      return { id, spec: socketChardev(rest, flag) };
    case 'stdio':
    case 'pty':
    case 'null':
      rejectUnknownKeys(rest, [], flag, `a ${backend} chardev`);
      return { id, spec: { kind: backend } };
    default:
      throw new UsageError(`${flag}: backend '${backend}' is not supported (use socket, stdio, pty or null)`);
  }
}

export function parseLegacyChardev(text: string, flag: string): LegacyChardev {
  switch (text) {
    case 'stdio':
    case 'pty':
    case 'null':
      return { kind: 'spec', spec: { kind: text } };
    case 'none':
      return { kind: 'none' };
  }
  if (text.startsWith('chardev:')) {
    const id = text.slice('chardev:'.length);
    if (id === '') throw new UsageError(`${flag}: 'chardev:' needs an id (e.g. ${flag} chardev:mon0)`);
    return { kind: 'ref', id };
  }
  if (text.startsWith('unix:')) {
    const list = parseKeyValue(text.slice('unix:'.length), { impliedKey: 'path', flag });
    rejectUnknownKeys(list, ['path', 'server', 'wait'], flag, 'a unix socket');
    return { kind: 'spec', spec: socketChardev(list, flag) };
  }
  if (text.startsWith('tcp:')) {
    const body = text.slice('tcp:'.length);
    const comma = body.indexOf(',');
    const address = comma < 0 ? body : body.slice(0, comma);
    const { host, port } = parseHostPort(address, flag, 'tcp:127.0.0.1:4444,server,nowait');
    const flags = parseKeyValue(comma < 0 ? '' : body.slice(comma + 1), { flag });
    rejectUnknownKeys(flags, ['server', 'wait', 'delay'], flag, 'a tcp socket');
    const list = new KeyValueList([
      { key: 'host', value: host },
      { key: 'port', value: String(port) },
      ...flags.entries,
    ]);
    return { kind: 'spec', spec: socketChardev(list, flag) };
  }
  const backend = text.split(':')[0];
  throw new UsageError(
    `${flag}: '${backend}' is not a supported character device (use stdio, pty, null, none, ${SOCKET_EXAMPLE}, tcp:HOST:PORT,server,nowait or chardev:ID)`,
  );
}

/** A socket chardev from its options; only listening (server) sockets are supported. */
function socketChardev(list: KeyValueList, flag: string): ChardevSpec {
  rejectUnknownKeys(list, SOCKET_KEYS, flag, 'a socket chardev');
  const server = boolOption(list, 'server', flag, false);
  if (!server) {
    throw new UsageError(`${flag}: only listening sockets are supported (add server=on, or ',server' to the address)`);
  }
  // QEMU's default for a server socket is to wait for the first client.
  const wait = boolOption(list, 'wait', flag, true);
  const path = list.get('path');
  const host = list.get('host');
  const portText = list.get('port');
  if (path !== undefined && (host !== undefined || portText !== undefined)) {
    throw new UsageError(`${flag}: give either path= (unix socket) or host=/port= (TCP), not both`);
  }
  if (path !== undefined) {
    if (path === '') throw new UsageError(`${flag}: empty socket path (e.g. ${SOCKET_EXAMPLE})`);
    if (list.has('delay')) throw new UsageError(`${flag}: nodelay applies to TCP sockets only (remove it)`);
    return { kind: 'socket', path, server: true, wait };
  }
  if (portText === undefined) {
    throw new UsageError(`${flag}: a socket needs path=PATH or port=PORT (e.g. ${SOCKET_EXAMPLE})`);
  }
  const port = parsePort(portText, flag, 'port=4444');
  const noDelay = !boolOption(list, 'delay', flag, true);
  const { host: normalisedHost } = parseHostPort(`${bracketIfV6(host ?? '')}:${port}`, flag, 'host=127.0.0.1');
  return { kind: 'tcp', host: normalisedHost, port, server: true, wait, noDelay };
}

function bracketIfV6(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function withoutKeys(list: KeyValueList, keys: string[]): KeyValueList {
  return new KeyValueList(list.entries.filter((e) => !keys.includes(e.key)));
}
