/**
 * The guest side of disks and networking, under QEMU's TCG (`-M microvm`, whose
 * virtio-mmio devices QEMU announces on the kernel command line the way cuju does):
 * /init mounts the first virtio-blk disk on /mnt/disk (read-only when the drive is,
 * not at all without ext4), the kernel's `ip=` configures eth0, and busybox's wget,
 * httpd and nc talk to the host through QEMU's user-mode network. Skipped when QEMU,
 * the built guest or e2fsprogs are missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { POWERED_OFF, QemuGuest, qemuSkipReason } from './qemu-guest.js';

const MICROVM = ['-M', 'microvm,acpi=off'];
/** QEMU user-mode network: the guest is 10.0.2.15, the host is reachable as 10.0.2.2. */
const GUEST_IP = '10.0.2.15';
const HOST_IP = '10.0.2.2';
const IP_PARAM = `ip=${GUEST_IP}::${HOST_IP}:255.255.255.0::eth0:off`;

const skip = qemuSkipReason || (!existsSync('/sbin/mkfs.ext4') || !existsSync('/sbin/debugfs') ? 'needs e2fsprogs (mkfs.ext4, debugfs, e2fsck)' : false);

function makeExt4Image(dir: string, files: Record<string, string>): string {
  const root = join(dir, 'root');
  mkdirSync(root);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(root, name), content);
  const image = join(dir, 'disk.img');
  execFileSync('truncate', ['-s', '16M', image]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-d', root, image]);
  return image;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A free loopback TCP port for QEMU's hostfwd (free now; QEMU binds it right after). */
async function freePort(): Promise<number> {
  const probe = createTcpServer();
  const port = await listen(probe);
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

const driveArgs = (image: string, extra = ''): string[] => [
  '-drive', `file=${image},format=raw,if=none,id=d0${extra}`, '-device', 'virtio-blk-device,drive=d0',
];

test('guest mounts its ext4 disk, gets its address from ip=, and talks to the host with wget, httpd and nc', { skip, timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-guest-disk-net-'));
  const http = createHttpServer((req, res) => res.end(req.url === '/greeting' ? 'from-the-host\n' : 'wrong path\n'));
  const ncReceived: string[] = [];
  const tcp = createTcpServer((socket) => {
    socket.on('data', (data) => {
      ncReceived.push(data.toString());
      socket.end('reply-from-host\n');
    });
  });
  let guest: QemuGuest | undefined;
  try {
    const image = makeExt4Image(dir, { 'hello.txt': 'hello from the host disk\n' });
    const httpPort = await listen(http);
    const tcpPort = await listen(tcp);
    const forwarded = await freePort();
    guest = new QemuGuest({
      machine: MICROVM,
      append: IP_PARAM,
      extraArgs: [
        ...driveArgs(image),
        '-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${forwarded}-:80`, '-device', 'virtio-net-device,netdev=n0',
      ],
    });
    await guest.waitFor(/cuju-guest: ready/, 'the /init marker');
    assert.match(guest.output(), /cuju-guest: \/dev\/vda mounted on \/mnt\/disk \(ext4, rw\)/);
    assert.match(guest.output(), new RegExp(`cuju-guest: eth0 ${GUEST_IP.replace(/\./g, '\\.')}/24`));
    await guest.waitFor(/cuju# /, 'the shell prompt');

    guest.send('cat /mnt/disk/hello.txt; echo cat-done');
    await guest.waitFor(/hello from the host disk\r?\n[\s\S]*cat-done/, 'the disk file');

    guest.send(`wget -q -O - http://${HOST_IP}:${httpPort}/greeting; echo wget-done`);
    await guest.waitFor(/from-the-host\r?\n[\s\S]*wget-done/, 'wget from the host');

    guest.send(`echo hello-from-nc | nc ${HOST_IP} ${tcpPort}; echo nc-done`);
    await guest.waitFor(/reply-from-host\r?\n[\s\S]*nc-done/, 'nc round trip');
    assert.equal(ncReceived.join(''), 'hello-from-nc\n');

    // The console echoes what is typed: the markers are computed by the guest's shell
    // ($((6*7)) prints 42), so the echo of the command line never matches them.
    guest.send('httpd -p 80 -h /mnt/disk && echo httpd-started-$((6*7))');
    await guest.waitFor(/httpd-started-42/, 'httpd to start');
    const page = await fetch(`http://127.0.0.1:${forwarded}/hello.txt`, { signal: AbortSignal.timeout(30_000) })
      .catch((e: Error) => { throw new Error(`fetching through the forwarded port failed: ${e.message}; console so far:\n${guest!.tail()}`); });
    assert.equal(page.status, 200);
    assert.equal(await page.text(), 'hello from the host disk\n');

    guest.send('echo written-by-the-guest > /mnt/disk/guest.txt && sync && echo write-done-$((6*7))');
    await guest.waitFor(/write-done-42/, 'the disk write');
    assert.equal(await guest.powerOff(), POWERED_OFF, guest.tail());
    // busybox init's shutdown unmounted the disk: it checks clean and holds the file.
    execFileSync('e2fsck', ['-fn', image], { stdio: 'pipe' });
    assert.equal(execFileSync('debugfs', ['-R', 'cat /guest.txt', image], { stdio: ['ignore', 'pipe', 'ignore'] }).toString(), 'written-by-the-guest\n');
  } finally {
    guest?.kill();
    http.close();
    tcp.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const { name, readonly, ext4, expected } of [
  { name: 'mounts a read-only drive read-only', readonly: true, ext4: true, expected: /cuju-guest: \/dev\/vda mounted on \/mnt\/disk \(ext4, ro\)/ },
  { name: 'leaves a disk without ext4 unmounted and says so', readonly: false, ext4: false, expected: /cuju-guest: \/dev\/vda not mounted \(no ext4 file system on it\)/ },
]) {
  test(`guest ${name}; without ip= it still brings lo up`, { skip, timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cuju-guest-disk-'));
    let guest: QemuGuest | undefined;
    try {
      let image = join(dir, 'raw.img');
      if (ext4) image = makeExt4Image(dir, { 'hello.txt': 'read-only hello\n' });
      else execFileSync('truncate', ['-s', '4M', image]);
      guest = new QemuGuest({ machine: MICROVM, extraArgs: driveArgs(image, readonly ? ',readonly=on' : '') });
      await guest.waitFor(/cuju-guest: ready/, 'the /init marker');
      assert.match(guest.output(), expected);
      assert.doesNotMatch(guest.output(), /cuju-guest: eth0/, 'no ip=: no address line');
      await guest.waitFor(/cuju# /, 'the shell prompt');
      guest.send('ip -o addr show dev lo; echo lo-done');
      await guest.waitFor(/lo\s+inet 127\.0\.0\.1\/8[\s\S]*lo-done/, 'lo up with 127.0.0.1');
      if (ext4) {
        guest.send('cat /mnt/disk/hello.txt; echo cat-done');
        await guest.waitFor(/read-only hello\r?\n[\s\S]*cat-done/, 'the disk file');
      }
      assert.equal(await guest.powerOff(), POWERED_OFF, guest.tail());
    } finally {
      guest?.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
