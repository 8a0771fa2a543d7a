/**
 * Cuju fault tolerance with real guests, the original's way (backup: -incoming
 * tcp:0:PORT,ft_mode; primary: migrate_set_capability cuju-ft on, migrate -c): a client
 * in its own network namespace keeps one TCP connection to a stateful counter in the
 * guest; kill -9 of the primary mid-conversation hands the VM to the backup, the same
 * connection carries on, and no answer the client got is lost or repeated (the counter
 * continues exactly). When the backup dies instead, the primary runs on unprotected.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BOOT_TIMEOUT_MS, GuestVm, guestSkipReason } from '../helpers/guest-vm.js';
import { NIC_RECIPE, guestFromSnapshot, recipeArgs } from '../../src/guest/harness/snapshot-recipe.js';
import { hmp } from '../../src/monitor/client/hmp-command.js';
import { netnsSkipReason, withTestNetwork, type TestNetwork } from '../helpers/netns.js';
import { freePort } from '../../src/net/free-port.js';

const skip = guestSkipReason() || netnsSkipReason();


/** The guest's service: a counter in a shell's memory, one line in, the next number out. */
const SERVE = "printf 'i=0\\nwhile read l; do i=$((i+1)); echo $i; done\\n' > /tmp/counter.sh && (nc -l -p 7000 -e sh /tmp/counter.sh &) && echo serving";

/**
 * In the client namespace: one connection, a request every 100 ms for `seconds`; every
 * answer must be the previous one + 1. Prints {sent, answers, last, error, bad}.
 */
const COUNTER_CLIENT = `
const [host, port, seconds] = process.argv.slice(1);
let sent = 0, answers = 0, last = 0, buf = '', error = null, bad = null, attempts = 0, done = false;
const finish = () => { if (done) return; done = true; console.log(JSON.stringify({ sent, answers, last, error, bad, attempts })); process.exit(0); };
function attempt() {
  attempts++;
  const s = require('net').connect(Number(port), host);
  let connected = false;
  s.setEncoding('utf8');
  s.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\\n')) >= 0) {
      const n = Number(buf.slice(0, i)); buf = buf.slice(i + 1);
      if (n !== last + 1) bad = bad || ('after ' + last + ' came ' + n);
      last = n; answers++;
    }
  });
  s.on('error', (e) => { if (!connected && attempts < 60) { setTimeout(attempt, 500); return; } error = e.code || e.message; finish(); });
  s.on('close', () => { if (connected) { error = error || 'closed by the peer'; finish(); } });
  s.on('connect', () => {
    connected = true;
    const timer = setInterval(() => { s.write('x\\n'); sent++; }, 100);
    setTimeout(() => {
      clearInterval(timer);
      const wait = Date.now() + 60000;
      const check = setInterval(() => { if (answers >= sent || Date.now() > wait) { clearInterval(check); finish(); } }, 100);
    }, Number(seconds) * 1000);
  });
}
attempt();
`;

interface CounterResult { sent: number; answers: number; last: number; error: string | null; bad: string | null }

async function protectedPair(net: TestNetwork) {
  const primary = await guestFromSnapshot(NIC_RECIPE, net.taps[0].name);
  const port = await freePort();
  const args = recipeArgs(NIC_RECIPE, net.taps[1].name);
  const backup = new GuestVm({ ...args, extraArgs: [...args.extraArgs!, '-incoming', `tcp:0:${port},ft_mode`] });
  const up = await primary.run(`ifconfig eth0 ${net.guest.address} netmask 255.255.255.0 up && ${SERVE}`);
  assert.match(up.out, /serving/, up.out);
  for (let i = 0; i < 200 && !/waiting for an incoming migration/.test(backup.stderr); i++) await new Promise((r) => setTimeout(r, 100));
  assert.equal(await hmp(primary.hmpPath, 'migrate_set_capability cuju-ft on'), '');
  const started = await hmp(primary.hmpPath, `migrate -c tcp:127.0.0.1:${port}`, 120_000);
  assert.match(started, /fault tolerance started/, `${started}\n${primary.stderr}\n${backup.stderr}`);
  assert.match(await hmp(primary.hmpPath, 'info ft'), /FT role: primary, state: protected/);
  return { primary, backup };
}

function clientResult(outcome: { stdout: string; stderr: string }): CounterResult {
  const line = outcome.stdout.trim().split('\n').pop() ?? '';
  assert.ok(line.startsWith('{'), `the client reported (stdout ${JSON.stringify(outcome.stdout)}, stderr ${outcome.stderr})`);
  return JSON.parse(line) as CounterResult;
}

test('kill -9 of the primary: the backup takes over, the client’s connection and every answer survive', { skip, timeout: BOOT_TIMEOUT_MS + 300_000 }, async () => {
  await withTestNetwork({ clients: 1, taps: 2 }, async (net) => {
    const { primary, backup } = await protectedPair(net);
    try {
      await primary.run('export CUJU_MARK=protected');
      const clientRun = net.exec(net.clients[0], [process.execPath, '-e', COUNTER_CLIENT, net.guest.address, '7000', '20'], { timeoutMs: 180_000 });
      await new Promise((r) => setTimeout(r, 8000));
      const ftBefore = await hmp(primary.hmpPath, 'info ft');
      assert.match(ftBefore, /acknowledged: [1-9]/, ftBefore);
      primary.child.kill('SIGKILL');

      const r = clientResult(await clientRun);
      assert.equal(r.error, null, `the connection survived the failover (${JSON.stringify(r)})`);
      assert.equal(r.bad, null, 'the counter went on exactly: no acknowledged answer lost or repeated');
      assert.ok(r.sent > 100, `the client talked the whole time (${r.sent} requests)`);
      assert.equal(r.answers, r.sent, 'every request was answered');
      assert.equal(r.last, r.sent);

      assert.match(backup.stderr, /took over from epoch \d+/);
      assert.match(await hmp(backup.hmpPath, 'info ft'), /FT role: backup, state: active/);
      assert.match(await hmp(backup.hmpPath, 'info status'), /VM status: running/);
      assert.equal((await backup.run('echo $CUJU_MARK')).out.trim(), 'protected', 'the shell state moved with the VM');
    } finally {
      await primary.kill();
      await backup.kill();
    }
  });
});

test('the backup dies: the primary runs on unprotected, its held output released; cuju-migrate-cancel ends a backup cleanly', { skip, timeout: 2 * BOOT_TIMEOUT_MS + 300_000 }, async () => {
  await withTestNetwork({ clients: 1, taps: 2 }, async (net) => {
    let pair = await protectedPair(net);
    try {
      const clientRun = net.exec(net.clients[0], [process.execPath, '-e', COUNTER_CLIENT, net.guest.address, '7000', '12'], { timeoutMs: 180_000 });
      await new Promise((r) => setTimeout(r, 5000));
      pair.backup.child.kill('SIGKILL');
      const r = clientResult(await clientRun);
      assert.equal(r.error, null, JSON.stringify(r));
      assert.equal(r.bad, null);
      assert.equal(r.answers, r.sent, 'answers held for the dead backup were released');
      const info = await hmp(pair.primary.hmpPath, 'info ft');
      assert.match(info, /state: unprotected, peer \S+ \(backup lost: .+\)/, info);
      assert.match(info, /held output: 0 packets/);
      assert.match(pair.primary.stderr, /backup lost: .*the VM runs on unprotected/);
    } finally {
      await pair.primary.kill();
      await pair.backup.kill();
    }

    pair = await protectedPair(net);
    try {
      assert.equal(await hmp(pair.primary.hmpPath, 'cuju-migrate-cancel'), '');
      assert.equal(await pair.backup.exited, 0, 'the backup exits cleanly');
      assert.match(pair.backup.stderr, /the primary stopped protecting the VM .*: this backup exits/);
      assert.match(await hmp(pair.primary.hmpPath, 'info ft'), /state: off/);
      assert.match(await hmp(pair.primary.hmpPath, 'cuju-failover'), /Error: cuju-failover is for the backup/);
      assert.match((await pair.primary.run('echo still-here')).out, /still-here/);
    } finally {
      await pair.primary.kill();
      await pair.backup.kill();
    }
  });
});
