import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  bridgeAddress,
  bridgeName,
  clientAddress,
  guestAddress,
  hostVethName,
  isLinkOfNetwork,
  namespaceName,
  NETWORK_COUNT,
  networkOfBridge,
  networkOfNamespace,
  ownerAlias,
  ownerOfAlias,
  subnet,
  tapName,
} from '../../../src/net/testnet/naming.js';

const network = fc.integer({ min: 0, max: NETWORK_COUNT - 1 });
const client = fc.integer({ min: 0, max: 100 });

test('every interface name fits Linux’s 15 characters and maps back to its network', () => {
  fc.assert(
    fc.property(network, client, (n, c) => {
      for (const name of [bridgeName(n), tapName(n), hostVethName(n, c)]) {
        assert.ok(name.length <= 15, name);
        assert.ok(isLinkOfNetwork(name, n), name);
      }
      assert.equal(networkOfBridge(bridgeName(n)), n);
      assert.equal(networkOfNamespace(namespaceName(n, c)), n);
      assert.equal(networkOfBridge(tapName(n)), undefined);
    }),
  );
});

test('names of different networks never collide or match each other', () => {
  fc.assert(
    fc.property(network, network, client, (a, b, c) => {
      fc.pre(a !== b);
      for (const name of [bridgeName(a), tapName(a), hostVethName(a, c)]) assert.ok(!isLinkOfNetwork(name, b), `${name} vs ${b}`);
      assert.notEqual(subnet(a), subnet(b));
    }),
  );
});

test('addresses stay inside the network’s private /24 in 10.240.0.0/12', () => {
  assert.equal(subnet(0), '10.240.0.0/24');
  assert.equal(subnet(NETWORK_COUNT - 1), '10.255.255.0/24');
  assert.equal(bridgeAddress(257), '10.241.1.1');
  assert.equal(guestAddress(257), '10.241.1.2');
  assert.equal(clientAddress(257, 3), '10.241.1.13');
  assert.throws(() => subnet(NETWORK_COUNT), RangeError);
  assert.throws(() => clientAddress(0, 201), RangeError);
  assert.ok(!isLinkOfNetwork('eth0', 0) && !isLinkOfNetwork('cj1b', 10) && !isLinkOfNetwork('cj10b', 1));
});

test('the owner alias round-trips and foreign aliases are not ours', () => {
  assert.equal(ownerOfAlias(ownerAlias(4242)), 4242);
  assert.equal(ownerOfAlias(undefined), undefined);
  assert.equal(ownerOfAlias('uplink to rack 3'), undefined);
});
