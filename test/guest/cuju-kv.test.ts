/**
 * cuju-kv (guest/workloads/cuju-kv.c), the service of the fault-tolerance failure tests,
 * is an ordinary static x86-64 Linux program: its protocol is checked here on the host
 * (compiled by the guest builder's own compileWorkload). The guest runs it from the
 * kv snapshot (test/helpers/kv-guest.ts) in test/integration/ft-failover-runs.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileWorkload, findWorkloadSources } from '../../src/guest/workloads.js';
import { guestPaths } from '../../src/guest/paths.js';
import { freePort } from '../../src/net/free-port.js';

const noGcc = spawnSync('gcc', ['--version']).status !== 0 ? 'needs gcc (build-essential)' : false;

/** Sends `requests` (one per line) on one connection; resolves with the answer lines. */
async function converse(port: number, requests: string[]): Promise<string[]> {
  const s = connect(port, '127.0.0.1');
  await once(s, 'connect');
  s.setEncoding('utf8');
  let buf = '';
  s.on('data', (d: string) => (buf += d));
  s.write(requests.map((r) => `${r}\n`).join(''));
  const deadline = Date.now() + 5000;
  while (buf.split('\n').length - 1 < requests.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  s.destroy();
  return buf.split('\n').filter(Boolean);
}

test('cuju-kv: counter, fsync\'ed log, read-back; a second connection sees the same state', { skip: noGcc }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-kv-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = (await findWorkloadSources(guestPaths().workloadsDir)).find((s) => s.name === 'cuju-kv');
  assert.ok(src, 'guest/workloads/cuju-kv.c exists');
  const w = await compileWorkload(src, join(dir, 'bin'));
  assert.ok(w.binary.length < 64 * 1024, 'small: no libc');
  const log = join(dir, 'kv.log');
  const port = await freePort();
  // R drops the page cache first (in the guest: so it reads the disk). Not the host's:
  // as root it runs as nobody here, whose write to /proc/sys/vm/drop_caches is refused.
  chmodSync(dir, 0o777);
  const asNobody = process.getuid?.() === 0 ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
  const argv = [...asNobody, join(dir, 'bin', 'cuju-kv'), String(port), log, '64'];
  const kv = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => kv.kill('SIGKILL'));
  let out = '';
  kv.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  while (!/listening/.test(out)) await new Promise((r) => setTimeout(r, 20));
  assert.match(out, /cuju-kv: listening on port \d+, log .*kv\.log, 16 pages dirtied per request/);

  assert.deepEqual(await converse(port, ['R', 'C', 'C', 'W 1', 'W 2', 'R', 'nonsense']), ['R 0 0 0', 'C 1', 'C 2', 'W 1 1', 'W 2 2', 'R 2 2 0', 'E unknown request']);
  assert.equal(readFileSync(log, 'latin1'), 'W00000000000001\nW00000000000002\n', '16-byte records');
  // A client that hangs up mid-conversation does not kill it (SIGPIPE ignored); state carries on.
  assert.deepEqual(await converse(port, ['C', 'W 4', 'R']), ['C 3', 'W 4 3', 'R 3 4 3'], 'record 3 holds 4: reported as the first bad one');
  writeFileSync(log, 'W00000000000001\nW000');
  assert.deepEqual(await converse(port, ['R']), ['R 1 1 2'], 'a torn record at the end is reported');
});

test('cuju-kv: bad arguments are a usage error (exit 2)', { skip: noGcc }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-kv-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const src = (await findWorkloadSources(guestPaths().workloadsDir)).find((s) => s.name === 'cuju-kv')!;
  await compileWorkload(src, dir);
  const r = spawnSync(join(dir, 'cuju-kv'), ['0', 'x'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /PORT must be between 1 and 65535\nusage: cuju-kv PORT FILE/);
});
