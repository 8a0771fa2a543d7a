/**
 * A private network for one test: a bridge with the host's address (.1, so a server
 * on the host is reachable from the guest), the VM's tap on it (the guest is .2), and
 * client namespaces each joined to the bridge by a veth pair (.10, .11, ...).
 *
 *   [ns cjNn0: eth0 10.x.y.10] ══veth══ cjNh0 ┐
 *   [ns cjNn1: eth0 10.x.y.11] ══veth══ cjNh1 ┼─ bridge cjNb 10.x.y.1/24
 *                           guest 10.x.y.2 ── tap cjNt ┘
 *
 * Nothing touches eth0 or existing routes: the only route added is the bridge's own
 * connected /24, chosen to overlap nothing the host routes. teardown() removes it all;
 * networks still alive at process exit are removed then, and a later create() sweeps
 * those of processes that were killed.
 */
import { MacAddress } from '../mac.js';
import { ip } from './ip-command.js';
import { claimNetwork } from './claim.js';
import {
  bridgeAddress,
  bridgeName,
  clientAddress,
  guestAddress,
  hostVethName,
  namespaceName,
  PREFIX_LENGTH,
  subnet,
  tapName,
} from './naming.js';
import { runInNamespace, type CommandResult, type RunOptions } from './run-in-namespace.js';
import { removeNetwork, sweepStaleNetworks } from './sweep.js';

export interface TestNetworkOptions {
  /** Client namespaces to create (default 1). */
  clients?: number;
  /** Taps on the bridge (default 1): a second VM (a migration destination, a backup) needs its own. */
  taps?: number;
}

export interface TestClient {
  /** The namespace name, for exec() and `ip netns exec`. */
  readonly ns: string;
  /** Its eth0 address (no prefix). */
  readonly address: string;
}

const live = new Set<TestNetwork>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const network of live) network.teardown();
  });
}

/** Interfaces without IPv6 link-local addresses send no router solicitations or DAD: a quiet link for tests. */
function quietIpv6(dev: string, ns?: string): void {
  ip([...(ns ? ['-n', ns] : []), 'link', 'set', 'dev', dev, 'addrgenmode', 'none']);
}

export class TestNetwork {
  readonly number: number;
  /** e.g. 10.240.7.0/24 */
  readonly subnet: string;
  readonly prefixLength = PREFIX_LENGTH;
  readonly bridge: { readonly name: string; readonly address: string };
  /** The VM's tap: persistent, on the bridge, up; open it with Tap.open({ ifname: tap.name }). */
  readonly tap: { readonly name: string };
  /** Every tap of this network; taps[0] is `tap`. */
  readonly taps: readonly { readonly name: string }[];
  /** What the guest behind the tap should use (QEMU's default MAC for the first NIC). */
  readonly guest: { readonly address: string; readonly mac: MacAddress };
  readonly clients: readonly TestClient[];
  private tornDown = false;

  private constructor(n: number, clients: number, taps: number) {
    this.number = n;
    this.subnet = subnet(n);
    this.bridge = { name: bridgeName(n), address: bridgeAddress(n) };
    this.taps = Array.from({ length: taps }, (_, i) => ({ name: tapName(n, i) }));
    this.tap = this.taps[0];
    this.guest = { address: guestAddress(n), mac: MacAddress.qemuDefault(0) };
    this.clients = Array.from({ length: clients }, (_, i) => ({ ns: namespaceName(n, i), address: clientAddress(n, i) }));
  }

  /** Builds the network (root only); on any failure what was built is removed again. */
  static create(options: TestNetworkOptions = {}): TestNetwork {
    const clients = options.clients ?? 1;
    if (!Number.isInteger(clients) || clients < 0 || clients > 100) throw new RangeError(`clients must be 0..100, got ${clients}`);
    sweepStaleNetworks();
    installExitHook();
    const taps = options.taps ?? 1;
    if (!Number.isInteger(taps) || taps < 1 || taps > 9) throw new RangeError(`taps must be 1..9, got ${taps}`);
    const network = new TestNetwork(claimNetwork(), clients, taps);
    live.add(network);
    try {
      network.build();
    } catch (e) {
      network.teardown();
      throw e;
    }
    return network;
  }

  /** Runs `command` (argv, no shell) inside a namespace of this network. */
  exec(ns: string | TestClient, command: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return runInNamespace(typeof ns === 'string' ? ns : ns.ns, command, options);
  }

  /** Removes every interface and namespace of this network; safe to call twice. */
  teardown(): void {
    if (this.tornDown) return;
    this.tornDown = true;
    live.delete(this);
    removeNetwork(this.number);
  }

  private build(): void {
    const br = this.bridge.name;
    quietIpv6(br);
    // Without multicast snooping the bridge sends no IGMP/MLD queries or reports of its own.
    ip(['link', 'set', 'dev', br, 'type', 'bridge', 'mcast_snooping', '0']);
    ip(['address', 'add', `${this.bridge.address}/${PREFIX_LENGTH}`, 'dev', br]);
    ip(['link', 'set', 'dev', br, 'up']);

    // Persistent, root-owned: a tap outlives the VM process, so a restarted VM can reattach.
    for (const tap of this.taps) {
      ip(['tuntap', 'add', 'dev', tap.name, 'mode', 'tap', 'vnet_hdr']);
      quietIpv6(tap.name);
      ip(['link', 'set', 'dev', tap.name, 'master', br, 'up']);
    }

    this.clients.forEach((client, i) => {
      const hostEnd = hostVethName(this.number, i);
      ip(['netns', 'add', client.ns]);
      ip(['link', 'add', 'name', hostEnd, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client.ns]);
      quietIpv6(hostEnd);
      ip(['link', 'set', 'dev', hostEnd, 'master', br, 'up']);
      quietIpv6('eth0', client.ns);
      ip(['-n', client.ns, 'link', 'set', 'dev', 'lo', 'up']);
      ip(['-n', client.ns, 'address', 'add', `${client.address}/${PREFIX_LENGTH}`, 'dev', 'eth0']);
      ip(['-n', client.ns, 'link', 'set', 'dev', 'eth0', 'up']);
    });
  }
}
