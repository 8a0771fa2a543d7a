/**
 * A network namespace for the backup VMM of a fault-tolerant pair, added to a test
 * network (netns.ts), so a test can cut or slow the replication link without touching
 * the guest's network:
 *
 *   root namespace                          backup namespace cjNn99
 *   primary VMM ── tcp ──> 10.x.y.202 ══ veth cjNh99 ═══ rep0 10.x.y.202/32   backup VMM
 *                      (10.x.y.201/32)                                           │ tap cjbt
 *   bridge cjNb ── veth cjNh98 ═══════════════════════ l2 ── bridge cjbb ── tap ┘
 *
 * (a) replication: a point-to-point veth with /32 addresses taken from the network's own
 *     /24 (a host route each way, more specific than the bridge's /24), so nothing
 *     outside the claimed subnet is used; `cut()` takes the root end down (both
 *     directions die), `slow()` shapes both ends.
 * (b) the guest's network: the backup's tap lives in the namespace on a bridge there,
 *     joined by a veth to the test bridge, so the backup's NIC reaches the same client
 *     network as the primary's tap.
 *
 * Names follow the test network's scheme (namespace index 99, host veths h98/h99), so the
 * network's teardown, its exit hook and the stale-network sweep remove all of it even
 * when a test dies: deleting the namespace destroys the veth pairs and the tap.
 */
import { execFileSync } from 'node:child_process';
import { ip, tryIp } from '../../src/net/testnet/ip-command.js';
import { hostVethName, namespaceName, subnetBase } from '../../src/net/testnet/naming.js';
import type { TestNetwork } from './netns.js';

const BACKUP_INDEX = 99;

/** How a slowed link was shaped: netem where the kernel has it, else a token-bucket rate limit. */
export type LinkShaping = { kind: 'netem'; delayMs: number; lossPercent: number } | { kind: 'tbf'; rateKbit: number };

function tc(args: readonly string[], ns?: string): void {
  const argv = ns ? ['netns', 'exec', ns, 'tc', ...args] : args;
  execFileSync(ns ? 'ip' : 'tc', argv, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export class BackupNamespace {
  readonly ns: string;
  /** Where the primary reaches the backup VMM (its replication address). */
  readonly replicationAddress: string;
  /** The tap (inside ns) for the backup's NIC. */
  readonly tap = 'cjbt';
  private readonly rootRep: string;
  private readonly rootL2: string;

  private constructor(net: TestNetwork) {
    const n = net.number;
    this.ns = namespaceName(n, BACKUP_INDEX);
    this.rootRep = hostVethName(n, BACKUP_INDEX);
    this.rootL2 = hostVethName(n, BACKUP_INDEX - 1);
    this.replicationAddress = `${subnetBase(n)}.202`;
  }

  /** Builds the namespace and both paths on `net`; on failure removes what it built. */
  static create(net: TestNetwork): BackupNamespace {
    const b = new BackupNamespace(net);
    try {
      b.build(net);
    } catch (e) {
      b.remove();
      throw e;
    }
    return b;
  }

  private build(net: TestNetwork): void {
    const ns = this.ns;
    const rootAddress = `${subnetBase(net.number)}.201`;
    ip(['netns', 'add', ns]);
    ip(['-n', ns, 'link', 'set', 'dev', 'lo', 'up']);
    // (a) replication veth
    ip(['link', 'add', 'name', this.rootRep, 'type', 'veth', 'peer', 'name', 'rep0', 'netns', ns]);
    ip(['link', 'set', 'dev', this.rootRep, 'addrgenmode', 'none']);
    ip(['address', 'add', `${rootAddress}/32`, 'dev', this.rootRep]);
    ip(['link', 'set', 'dev', this.rootRep, 'up']);
    ip(['route', 'add', `${this.replicationAddress}/32`, 'dev', this.rootRep, 'src', rootAddress]);
    ip(['-n', ns, 'link', 'set', 'dev', 'rep0', 'addrgenmode', 'none']);
    ip(['-n', ns, 'address', 'add', `${this.replicationAddress}/32`, 'dev', 'rep0']);
    ip(['-n', ns, 'link', 'set', 'dev', 'rep0', 'up']);
    ip(['-n', ns, 'route', 'add', `${rootAddress}/32`, 'dev', 'rep0']);
    // (b) the guest's L2 path
    ip(['link', 'add', 'name', this.rootL2, 'type', 'veth', 'peer', 'name', 'l2', 'netns', ns]);
    ip(['link', 'set', 'dev', this.rootL2, 'addrgenmode', 'none']);
    ip(['link', 'set', 'dev', this.rootL2, 'master', net.bridge.name, 'up']);
    ip(['-n', ns, 'link', 'add', 'name', 'cjbb', 'type', 'bridge']);
    ip(['-n', ns, 'link', 'set', 'dev', 'cjbb', 'addrgenmode', 'none']);
    ip(['-n', ns, 'link', 'set', 'dev', 'l2', 'addrgenmode', 'none']);
    ip(['-n', ns, 'link', 'set', 'dev', 'l2', 'master', 'cjbb', 'up']);
    ip(['netns', 'exec', ns, 'ip', 'tuntap', 'add', 'dev', this.tap, 'mode', 'tap', 'vnet_hdr']);
    ip(['-n', ns, 'link', 'set', 'dev', this.tap, 'addrgenmode', 'none']);
    ip(['-n', ns, 'link', 'set', 'dev', this.tap, 'master', 'cjbb', 'up']);
    ip(['-n', ns, 'link', 'set', 'dev', 'cjbb', 'up']);
  }

  /** Cuts the replication link both ways (the guest's network stays up). */
  cut(): void {
    ip(['link', 'set', 'dev', this.rootRep, 'down']);
  }

  /** Restores a cut link (the routes went with the link: put the host route back). */
  heal(net: TestNetwork): void {
    ip(['link', 'set', 'dev', this.rootRep, 'up']);
    tryIp(['route', 'add', `${this.replicationAddress}/32`, 'dev', this.rootRep, 'src', `${subnetBase(net.number)}.201`]);
  }

  /**
   * Slows the replication link both ways: netem delay + loss where the kernel has netem,
   * otherwise (CONFIG_NET_SCH_NETEM off, as on this project's machines) a tbf rate limit.
   */
  slow(delayMs: number, lossPercent: number, fallbackRateKbit: number): LinkShaping {
    const netem = ['root', 'netem', 'delay', `${delayMs}ms`, 'loss', `${lossPercent}%`];
    try {
      tc(['qdisc', 'add', 'dev', this.rootRep, ...netem]);
      tc(['qdisc', 'add', 'dev', 'rep0', ...netem], this.ns);
      return { kind: 'netem', delayMs, lossPercent };
    } catch {
      this.unshape();
      const tbf = ['root', 'tbf', 'rate', `${fallbackRateKbit}kbit`, 'burst', '16kb', 'latency', '500ms'];
      tc(['qdisc', 'add', 'dev', this.rootRep, ...tbf]);
      tc(['qdisc', 'add', 'dev', 'rep0', ...tbf], this.ns);
      return { kind: 'tbf', rateKbit: fallbackRateKbit };
    }
  }

  unshape(): void {
    try { tc(['qdisc', 'del', 'dev', this.rootRep, 'root']); } catch { /* none */ }
    try { tc(['qdisc', 'del', 'dev', 'rep0', 'root'], this.ns); } catch { /* none */ }
  }

  /** Removes the namespace (and with it both veth pairs and the tap); the network's teardown does this too. */
  remove(): void {
    tryIp(['netns', 'delete', this.ns]);
    tryIp(['link', 'delete', 'dev', this.rootRep]);
    tryIp(['link', 'delete', 'dev', this.rootL2]);
  }
}
