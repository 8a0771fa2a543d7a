/**
 * Tests on a private network of bridges, taps and namespaces (src/net/testnet).
 * They need root and `ip netns`: pass `{ skip: netnsSkipReason() }` to test(), so
 * they skip visibly elsewhere. Use withTestNetwork() (or try/finally + teardown()).
 */
import { accessSync, constants } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { TestNetwork, type TestNetworkOptions } from '../../src/net/testnet/test-network.js';

export { TestNetwork, type TestClient, type TestNetworkOptions } from '../../src/net/testnet/test-network.js';

export function netnsSkipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root (creates bridges, taps and network namespaces)';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return 'needs /dev/net/tun (modprobe tun)';
  }
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'needs `ip netns` (iproute2)';
  }
  return false;
}

/** Runs fn on a fresh network and removes the network afterwards, also when fn throws. */
export async function withTestNetwork<T>(options: TestNetworkOptions, fn: (network: TestNetwork) => Promise<T>): Promise<T> {
  const network = TestNetwork.create(options);
  try {
    return await fn(network);
  } finally {
    network.teardown();
  }
}
