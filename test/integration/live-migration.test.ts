/**
 * Live migration between two cuju processes on two taps of one bridge: a client in its
 * own network namespace keeps a TCP connection to an echo server in the guest across
 * the migration, with no reset and no lost or reordered bytes; verify mode proves RAM
 * and device state arrived exactly; the source ends paused (postmigrate).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BOOT_TIMEOUT_MS, GuestVm, guestSkipReason } from '../helpers/guest-vm.js';
import { NIC_RECIPE, SHELL_RECIPE, guestFromSnapshot, recipeArgs } from '../../src/guest/harness/snapshot-recipe.js';
import { hmp } from '../../src/monitor/client/hmp-command.js';
import { netnsSkipReason, withTestNetwork } from '../helpers/netns.js';
import { freePort } from '../../src/net/free-port.js';

const skip = guestSkipReason() || netnsSkipReason();

/** A TCP port free on loopback right now. */

/**
 * Runs in the client namespace: sends a numbered line every 100 ms for `seconds`,
 * checks every echo comes back in order, prints one JSON result line.
 */
const ECHO_CLIENT = `
const [host, port, seconds] = process.argv.slice(1);
let sent = 0, received = 0, buf = '', error = null, bad = null, attempts = 0, done = false;
const finish = () => {
  if (done) return;
  done = true;
  console.log(JSON.stringify({ sent, received, error, bad, attempts }));
  process.exit(0);
};
// The guest's server may still be starting (fork and exec run in the emulated kernel): retry.
function attempt() {
  attempts++;
  const s = require('net').connect(Number(port), host);
  let connected = false;
  s.setEncoding('utf8');
  s.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\\n')) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1);
      if (line !== 'line ' + received) bad = bad || ('expected line ' + received + ', got ' + JSON.stringify(line));
      received++;
    }
  });
  s.on('error', (e) => {
    if (!connected && attempts < 60) { setTimeout(attempt, 500); return; }
    error = e.code || e.message;
    finish();
  });
  s.on('close', () => { if (connected) { error = error || 'closed by the peer'; finish(); } });
  s.on('connect', () => {
    connected = true;
    const timer = setInterval(() => { s.write('line ' + sent++ + '\\n'); }, 100);
    setTimeout(() => {
      clearInterval(timer);
      const wait = Date.now() + 60000;
      const check = setInterval(() => {
        if (received >= sent || Date.now() > wait) { clearInterval(check); finish(); }
      }, 100);
    }, Number(seconds) * 1000);
  });
}
attempt();
`;

test('live migration keeps a namespace client’s TCP connection to the guest, verify mode agrees', { skip, timeout: BOOT_TIMEOUT_MS + 300_000 }, async () => {
  await withTestNetwork({ clients: 1, taps: 2 }, async (net) => {
    const ip = net.guest.address;
    const source = await guestFromSnapshot(NIC_RECIPE, net.taps[0].name);
    let destination: GuestVm | undefined;
    try {
      const up = await source.run(`ifconfig eth0 ${ip} netmask 255.255.255.0 up && (nc -l -p 7000 -e /bin/cat &) && echo serving`);
      assert.match(up.out, /serving/, up.out);
      const [client] = net.clients;
      const clientRun = net.exec(client, [process.execPath, '-e', ECHO_CLIENT, ip, '7000', '25'], { timeoutMs: 180_000 });

      const port = await freePort();
      const dest = recipeArgs(NIC_RECIPE, net.taps[1].name);
      destination = new GuestVm({ ...dest, extraArgs: [...dest.extraArgs!, '-incoming', `tcp:0:${port}`] });
      for (let i = 0; i < 100 && !/waiting for an incoming migration/.test(destination.stderr); i++) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 5000)); // the client's conversation is under way

      assert.equal(await hmp(source.hmpPath, 'migrate_set_capability x-verify on'), '');
      const result = await hmp(source.hmpPath, `migrate tcp:127.0.0.1:${port}`, 120_000);
      assert.match(result, /migration completed: .*verify: match/, `${result}\n${source.stderr}\n${destination.stderr}`);
      assert.match(await hmp(source.hmpPath, 'info status'), /paused \(postmigrate\)/);
      const info = await hmp(source.hmpPath, 'info migrate');
      assert.match(info, /Migration status: completed/);
      assert.match(info, /downtime: \d+ ms/);

      const outcome = await clientRun;
      const line = outcome.stdout.trim().split('\n').pop() ?? '';
      assert.ok(line.startsWith('{'), `the client reported (stdout ${JSON.stringify(outcome.stdout)}, stderr ${outcome.stderr})`);
      const r = JSON.parse(line) as { sent: number; received: number; error: string | null; bad: string | null };
      assert.equal(r.error, null, `the connection survived (${line}; ${outcome.stderr})`);
      assert.equal(r.bad, null, 'echoes in order');
      assert.ok(r.sent > 100, `the client talked the whole time (${r.sent} lines)`);
      assert.equal(r.received, r.sent, 'every line came back');

      const after = await destination.run('echo on-destination; cat /sys/class/net/eth0/address');
      assert.match(after.out, /on-destination/);
      assert.match(after.out, /52:54:00:12:34:56/, 'same MAC at the new place');
    } finally {
      await source.kill();
      await destination?.kill();
    }
  });
});

test('the destination killed mid-stream: the source says failed and its guest carries on; a cancel likewise', { skip, timeout: BOOT_TIMEOUT_MS + 300_000 }, async () => {
  const source = await guestFromSnapshot(SHELL_RECIPE);
  const spawned: GuestVm[] = [];
  const destination = async () => {
    const port = await freePort();
    const vm = new GuestVm({ ...recipeArgs(SHELL_RECIPE), extraArgs: ['-incoming', `tcp:0:${port}`] });
    spawned.push(vm);
    for (let i = 0; i < 200 && !/waiting for an incoming migration/.test(vm.stderr); i++) await new Promise((r) => setTimeout(r, 100));
    return { vm, port };
  };
  try {
    await source.run('export CUJU_MARK=before');
    // Slow enough (~4 s for the guest's ~21 MiB) to be caught in the middle.
    assert.equal(await hmp(source.hmpPath, 'migrate_set_parameter max-bandwidth 5M'), '');

    const first = await destination();
    assert.equal(await hmp(source.hmpPath, `migrate -d tcp:127.0.0.1:${first.port}`), '');
    await new Promise((r) => setTimeout(r, 1500));
    assert.match(await hmp(source.hmpPath, 'info migrate'), /Migration status: active/);
    first.vm.child.kill('SIGKILL');
    let info = '';
    for (let i = 0; i < 100 && !/Migration status: failed/.test(info); i++) {
      await new Promise((r) => setTimeout(r, 200));
      info = await hmp(source.hmpPath, 'info migrate');
    }
    assert.match(info, /Migration status: failed \(.+\)/, info);
    assert.match(await hmp(source.hmpPath, 'info status'), /VM status: running/);
    assert.equal((await source.run('echo $CUJU_MARK-still')).out.trim(), 'before-still');

    const second = await destination();
    assert.equal(await hmp(source.hmpPath, `migrate -d tcp:127.0.0.1:${second.port}`), '');
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await hmp(source.hmpPath, 'migrate_cancel'), '');
    for (let i = 0; i < 100 && !/Migration status: cancelled/.test(info); i++) {
      await new Promise((r) => setTimeout(r, 200));
      info = await hmp(source.hmpPath, 'info migrate');
    }
    assert.match(info, /Migration status: cancelled/, info);
    assert.equal((await source.run('echo $CUJU_MARK-again')).out.trim(), 'before-again');
    assert.match(second.vm.stderr, /incoming migration failed: .*still waiting/, 'the destination never started the VM');
    assert.equal(second.vm.child.exitCode, null, 'and it waits for another attempt');

    // The same destination takes the next, complete attempt.
    assert.equal(await hmp(source.hmpPath, 'migrate_set_parameter max-bandwidth 1G'), '');
    assert.match(await hmp(source.hmpPath, `migrate tcp:127.0.0.1:${second.port}`, 120_000), /migration completed/);
    assert.equal((await second.vm.run('echo $CUJU_MARK-moved')).out.trim(), 'before-moved');
  } finally {
    await source.kill();
    for (const vm of spawned) await vm.kill();
  }
});
