/**
 * virtio-net on a tap, in a private test network: a client in its own network
 * namespace fetches a page from busybox httpd in the guest, and the guest fetches a
 * page from a server on the bridge (the host side). The guest's address comes from
 * the kernel's `ip=` parameter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GuestVm, guestSkipReason, BOOT_TIMEOUT_MS } from '../helpers/guest-vm.js';
import { netnsSkipReason, withTestNetwork } from '../helpers/netns.js';

const skip = guestSkipReason() || netnsSkipReason();

test('virtio-net: namespace client -> guest httpd, and guest -> server on the bridge', { skip, timeout: BOOT_TIMEOUT_MS + 300_000 }, async () => {
  await withTestNetwork({ clients: 1 }, async (net) => {
    const guestIp = net.guest.address;
    const vm = new GuestVm({
      append: `console=ttyS0 quiet ip=${guestIp}::${net.bridge.address}:255.255.255.0::eth0:off`,
      extraArgs: ['-netdev', `tap,id=n0,ifname=${net.tap.name},script=no,downscript=no`, '-device', `virtio-net,netdev=n0,mac=${net.guest.mac.toString()}`],
    });
    const server = createServer((_req, res) => res.end('hello-from-the-bridge\n'));
    try {
      await vm.waitForShell();
      const mac = await vm.run('cat /sys/class/net/eth0/address');
      assert.equal(mac.out.trim(), net.guest.mac.toString(), 'the MAC from -device reaches the guest');
      // The kernel's ip= did it; configure by hand only if this kernel lacks IP_PNP.
      await vm.run(`ip addr show eth0 | grep -q ${guestIp} || ifconfig eth0 ${guestIp} netmask 255.255.255.0 up`);
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
