/**
 * virtio-net on a tap, in a private test network: a client in its own network
 * namespace fetches a page from busybox httpd in the guest, and the guest fetches a
 * page from a server on the bridge (the host side). The guest starts from the NIC
 * snapshot (a cold boot costs minutes where guest kernel code is emulated; the boot
 * tests boot cold) and gets its address with ifconfig; the kernel's `ip=` parameter
 * is tested under QEMU (test/guest/qemu-disk-net.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { guestSkipReason, BOOT_TIMEOUT_MS } from '../helpers/guest-vm.js';
import { netnsSkipReason, withTestNetwork } from '../helpers/netns.js';
import { NIC_RECIPE, SNAPSHOT_NIC_MAC, guestFromSnapshot } from '../../src/guest/harness/snapshot-recipe.js';

const skip = guestSkipReason() || netnsSkipReason();

test('virtio-net: namespace client -> guest httpd, and guest -> server on the bridge', { skip, timeout: BOOT_TIMEOUT_MS + 300_000 }, async () => {
  await withTestNetwork({ clients: 1 }, async (net) => {
    const guestIp = net.guest.address;
    const vm = await guestFromSnapshot(NIC_RECIPE, net.tap.name);
    const server = createServer((_req, res) => res.end('hello-from-the-bridge\n'));
    try {
      const mac = await vm.run('cat /sys/class/net/eth0/address');
      assert.equal(mac.out.trim(), SNAPSHOT_NIC_MAC, 'the MAC from -device reaches the guest');
      const up = await vm.run(`ifconfig eth0 ${guestIp} netmask 255.255.255.0 up`);
      assert.equal(up.status, 0, up.out);
      const serve = await vm.run('mkdir -p /www && echo hello-from-the-guest > /www/index.html && httpd -p 8080 -h /www');
      assert.equal(serve.status, 0, serve.out);
      const [client] = net.clients;
      // Node as the client inside the namespace (the host's static busybox wget crashes there).
      const get = `require('http').get(process.argv[1], (r) => r.pipe(process.stdout)).on('error', (e) => { console.error(e.message); process.exit(1); })`;
      const fetched = await net.exec(client, [process.execPath, '-e', get, `http://${guestIp}:8080/`], { timeoutMs: 120_000 });
      assert.match(fetched.stdout, /hello-from-the-guest/, `GET from ${client.ns}: status ${fetched.status} ${fetched.signal ?? ''} ${fetched.stderr}`);

      await new Promise<void>((r) => server.listen(0, net.bridge.address, r));
      const port = (server.address() as AddressInfo).port;
      const got = await vm.run(`wget -q -O - http://${net.bridge.address}:${port}/`);
      assert.match(got.out, /hello-from-the-bridge/, got.out);
      vm.child.stdin!.write('poweroff\n');
      assert.equal(await vm.exited, 0, vm.stderr);
    } finally {
      server.close();
      await vm.kill();
    }
  });
});
