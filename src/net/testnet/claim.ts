/**
 * Picks a free test network number: its /24 must not overlap any route the host
 * already has (so we never shadow the host's own networks), and creating its bridge
 * must succeed (the atomic claim against parallel test processes).
 */
import { randomInt } from 'node:crypto';
import { ip, ipJson, TestNetworkError } from './ip-command.js';
import { bridgeName, NETWORK_COUNT, ownerAlias, PREFIX_LENGTH, subnetBase } from './naming.js';

interface Prefix {
  address: number;
  length: number;
}

function parseIpv4(text: string): number {
  return text.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

function parsePrefix(dst: string): Prefix | undefined {
  if (dst === 'default') return undefined; // the default route overlaps everything by design; it is not a network
  const [address, length] = dst.split('/');
  if (!/^\d+\.\d+\.\d+\.\d+$/.test(address)) return undefined;
  return { address: parseIpv4(address), length: length === undefined ? 32 : Number(length) };
}

/** Two prefixes overlap when they agree on the bits of the shorter one. */
function overlaps(a: Prefix, b: Prefix): boolean {
  const block = 2 ** (32 - Math.min(a.length, b.length));
  return Math.floor(a.address / block) === Math.floor(b.address / block);
}

function hostPrefixes(): Prefix[] {
  return ipJson<{ dst: string }>(['-4', 'route', 'show', 'table', 'all'])
    .map((route) => parsePrefix(route.dst))
    .filter((p): p is Prefix => p !== undefined);
}

/** Claims a network number for this process: creates its bridge, marked with our pid. */
export function claimNetwork(): number {
  const taken = hostPrefixes();
  const start = randomInt(NETWORK_COUNT);
  for (let k = 0; k < NETWORK_COUNT; k++) {
    const n = (start + k) % NETWORK_COUNT;
    const candidate = { address: parseIpv4(`${subnetBase(n)}.0`), length: PREFIX_LENGTH };
    if (taken.some((p) => overlaps(p, candidate))) continue;
    try {
      ip(['link', 'add', 'name', bridgeName(n), 'type', 'bridge']);
    } catch (e) {
      if (/File exists/.test((e as Error).message)) continue;
      throw e;
    }
    ip(['link', 'set', 'dev', bridgeName(n), 'alias', ownerAlias(process.pid)]);
    return n;
  }
  throw new TestNetworkError('no free test network: every 10.240.0.0/12 /24 is in use; remove leftover cj*b bridges (ip link del ...)');
}
