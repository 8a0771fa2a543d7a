/**
 * Removing test networks: one network by number (teardown, in the reverse order of
 * creation so the bridge, which is the claim, goes last), and leftovers of test
 * processes that died without tearing down (killed by a timeout, SIGKILL).
 */
import { ip, listLinks, listNamespaces, tryIp } from './ip-command.js';
import { bridgeName, isLinkOfNetwork, networkOfBridge, networkOfNamespace, ownerOfAlias } from './naming.js';

/** Deletes network n's namespaces (which destroys their veth pairs), its other links, then its bridge. */
export function removeNetwork(n: number): void {
  for (const ns of listNamespaces()) {
    if (networkOfNamespace(ns) === n) tryIp(['netns', 'delete', ns]);
  }
  const links = listLinks().filter((link) => isLinkOfNetwork(link.ifname, n) && link.ifname !== bridgeName(n));
  for (const link of links) tryIp(['link', 'delete', 'dev', link.ifname]);
  tryIp(['link', 'delete', 'dev', bridgeName(n)]);
  const left = listLinks().filter((link) => isLinkOfNetwork(link.ifname, n)).map((link) => link.ifname);
  if (left.length > 0) ip(['link', 'delete', 'dev', left[0]]); // surfaces ip's reason as an error
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes networks whose owner process is gone, and namespaces whose bridge is gone
 * (a network's bridge is created first and removed last, so such a namespace is orphaned).
 * Namespaces are listed before links so a network being created right now is seen with its bridge.
 */
export function sweepStaleNetworks(): void {
  const namespaces = listNamespaces();
  const links = listLinks();
  const bridges = new Map<number, number | undefined>();
  for (const link of links) {
    const n = networkOfBridge(link.ifname);
    if (n !== undefined) bridges.set(n, ownerOfAlias(link.ifalias));
  }
  for (const [n, owner] of bridges) {
    // A bridge without our alias is mid-creation (or not ours): leave it.
    if (owner !== undefined && owner !== process.pid && !processAlive(owner)) removeNetwork(n);
  }
  for (const ns of namespaces) {
    const n = networkOfNamespace(ns);
    if (n !== undefined && !bridges.has(n)) tryIp(['netns', 'delete', ns]);
  }
}
