/**
 * Names and addresses of test network number n. Every interface name is derived
 * from n and stays within Linux's 15-character limit; the bridge name doubles as the
 * lock on n (creating it fails when another test holds n), so parallel tests in
 * different processes never share names or subnets.
 *
 * Network n uses 10.(240 + n/256).(n%256).0/24: .1 the bridge (the host side),
 * .2 the guest behind the tap, .10+i client namespace i.
 */

export const NETWORK_COUNT = 16 * 256;
const PREFIX = 'cj';
const BRIDGE_NAME = /^cj(\d+)b$/;
const NAMESPACE_NAME = /^cj(\d+)n\d+$/;
/** Marks our bridges (the 'ifalias'), with the owner's pid for sweeping leftovers of dead test processes. */
const OWNER_ALIAS = /^cuju-testnet pid=(\d+)$/;

export const PREFIX_LENGTH = 24;

export function bridgeName(n: number): string {
  return `${PREFIX}${n}b`;
}

/** Tap `index` of network n (the first one keeps the plain name). */
export function tapName(n: number, index = 0): string {
  return index === 0 ? `${PREFIX}${n}t` : `${PREFIX}${n}t${index}`;
}

/** The client's veth end that stays on the bridge (the other end moves into the namespace as eth0). */
export function hostVethName(n: number, client: number): string {
  return `${PREFIX}${n}h${client}`;
}

export function namespaceName(n: number, client: number): string {
  return `${PREFIX}${n}n${client}`;
}

/** True for every interface name network n uses (bridge, tap, host veths). */
export function isLinkOfNetwork(name: string, n: number): boolean {
  return new RegExp(`^${PREFIX}${n}[bth]\\d*$`).test(name);
}

export function networkOfBridge(name: string): number | undefined {
  const m = BRIDGE_NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function networkOfNamespace(name: string): number | undefined {
  const m = NAMESPACE_NAME.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function ownerAlias(pid: number): string {
  return `cuju-testnet pid=${pid}`;
}

export function ownerOfAlias(alias: string | undefined): number | undefined {
  const m = alias === undefined ? null : OWNER_ALIAS.exec(alias);
  return m ? Number(m[1]) : undefined;
}

/** The first three octets of network n's /24. */
export function subnetBase(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n >= NETWORK_COUNT) throw new RangeError(`test network number ${n} outside 0..${NETWORK_COUNT - 1}`);
  return `10.${240 + (n >> 8)}.${n & 255}`;
}

export function subnet(n: number): string {
  return `${subnetBase(n)}.0/${PREFIX_LENGTH}`;
}

export function bridgeAddress(n: number): string {
  return `${subnetBase(n)}.1`;
}

export function guestAddress(n: number): string {
  return `${subnetBase(n)}.2`;
}

export function clientAddress(n: number, client: number): string {
  if (client < 0 || client > 200) throw new RangeError(`client index ${client} outside 0..200`);
  return `${subnetBase(n)}.${10 + client}`;
}
