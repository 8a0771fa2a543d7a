/**
 * The per-test network leaves nothing behind: after teardown, after a failing test,
 * at process exit, and after its process was killed (swept by the next create()).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { netnsSkipReason, TestNetwork, withTestNetwork } from '../../helpers/netns.js';
import { isLinkOfNetwork, networkOfNamespace } from '../../../src/net/testnet/naming.js';
import { listLinks, listNamespaces } from '../../../src/net/testnet/ip-command.js';

const skip = netnsSkipReason();
const testNetworkModule = fileURLToPath(new URL('../../../src/net/testnet/test-network.js', import.meta.url));

function leftovers(n: number): string[] {
  return [
    ...listLinks().filter((l) => isLinkOfNetwork(l.ifname, n)).map((l) => l.ifname),
    ...listNamespaces().filter((ns) => networkOfNamespace(ns) === n),
  ];
}

/** Starts a node process that creates a network, prints its number, then runs `then`. */
async function networkInChild(then: string): Promise<{ n: number; child: ReturnType<typeof spawn> }> {
  const script = `import { TestNetwork } from ${JSON.stringify(testNetworkModule)};
    const net = TestNetwork.create({ clients: 2 });
    console.log(net.number);
    ${then}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const [line] = (await once(child.stdout!, 'data')) as [Buffer];
  return { n: Number(line.toString().trim()), child };
}

test('the network is what it claims: addresses, bridge ports, clients reach the bridge', { skip, timeout: 30_000 }, async () => {
  await withTestNetwork({ clients: 2 }, async (net) => {
    assert.match(net.subnet, /^10\.(24\d|25[0-5])\.\d+\.0\/24$/);
    const ports = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'master', net.bridge.name], { encoding: 'utf8' })) as { ifname: string }[];
    assert.deepEqual(ports.map((p) => p.ifname).sort(), [net.tap.name, `cj${net.number}h0`, `cj${net.number}h1`].sort());
    const hostAddresses = execFileSync('ip', ['-o', '-4', 'addr', 'show', 'dev', net.bridge.name], { encoding: 'utf8' });
    assert.match(hostAddresses, new RegExp(`inet ${net.bridge.address.replaceAll('.', '\\.')}/24`));
    for (const client of net.clients) {
      const r = await net.exec(client, ['busybox', 'ping', '-c', '1', '-W', '5', net.bridge.address]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
    const between = await net.exec(net.clients[0], ['busybox', 'ping', '-c', '1', '-W', '5', net.clients[1].address]);
    assert.equal(between.status, 0, between.stdout + between.stderr);
    const routes = await net.exec(net.clients[0], ['ip', '-4', 'route']);
    assert.doesNotMatch(routes.stdout, /default/, 'clients have no way off the test network');
    assert.equal((await net.exec(net.clients[0], ['false'])).status, 1, 'exit status travels back');
  });
});

test('parallel networks get different names and subnets', { skip, timeout: 30_000 }, () => {
  const a = TestNetwork.create({ clients: 1 });
  try {
    const b = TestNetwork.create({ clients: 1 });
    try {
      assert.notEqual(a.number, b.number);
      assert.notEqual(a.subnet, b.subnet);
      assert.notEqual(a.clients[0].ns, b.clients[0].ns);
    } finally {
      b.teardown();
    }
  } finally {
    a.teardown();
  }
});

test('teardown removes every interface and namespace, and is safe to repeat', { skip, timeout: 30_000 }, () => {
  const net = TestNetwork.create({ clients: 3 });
  assert.equal(leftovers(net.number).length, 1 + 1 + 3 + 3, 'bridge, tap, 3 host veths, 3 namespaces');
  net.teardown();
  assert.deepEqual(leftovers(net.number), []);
  net.teardown();
});

test('a failing test body still tears the network down', { skip, timeout: 30_000 }, async () => {
  let n = -1;
  await assert.rejects(
    withTestNetwork({ clients: 1 }, async (net) => {
      n = net.number;
      throw new Error('test body failed');
    }),
    /test body failed/,
  );
  assert.ok(n >= 0);
  assert.deepEqual(leftovers(n), []);
});

test('a process that exits without teardown removes its networks on exit', { skip, timeout: 30_000 }, async () => {
  const { n, child } = await networkInChild('process.exit(3);');
  const [code] = await once(child, 'exit');
  assert.equal(code, 3);
  assert.deepEqual(leftovers(n), []);
});

test('networks of a killed process are swept by the next create()', { skip, timeout: 30_000 }, async () => {
  const { n, child } = await networkInChild('setInterval(() => {}, 1000);');
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.ok(leftovers(n).length > 0, 'SIGKILL skips exit handlers: the network is left');
  const fresh = TestNetwork.create({ clients: 0 });
  try {
    assert.deepEqual(leftovers(n), []);
  } finally {
    fresh.teardown();
  }
});

test('a second tap for a second VM: both on the bridge, both removed', { skip, timeout: 30_000 }, async () => {
  let n = -1;
  await withTestNetwork({ clients: 0, taps: 2 }, async (net) => {
    n = net.number;
    assert.deepEqual(net.taps.map((t) => t.name), [`cj${n}t`, `cj${n}t1`]);
    assert.equal(net.tap, net.taps[0]);
    const ports = JSON.parse(execFileSync('ip', ['-j', 'link', 'show', 'master', net.bridge.name], { encoding: 'utf8' })) as { ifname: string }[];
    assert.deepEqual(ports.map((p) => p.ifname).sort(), net.taps.map((t) => t.name).sort());
  });
  assert.deepEqual(leftovers(n), []);
  assert.throws(() => TestNetwork.create({ taps: 0 }), /taps must be 1\.\.9/);
});
