/**
 * `npm start`'s demo, unattended (`--auto`): a real protected pair serving the real guest
 * service to a client over one TCP connection; kill -9 of the primary, re-protection of
 * the survivor with a new backup, kill -9 of the new primary; nothing acknowledged lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { guestSkipReason, ROOT } from '../helpers/guest-vm.js';
import { netnsSkipReason } from '../helpers/netns.js';

test('npm start -- --auto: two failovers and a re-protection with the client\'s connection kept and nothing lost', { skip: guestSkipReason() || netnsSkipReason(), timeout: 20 * 60_000 }, () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/demo/start.js'), '--auto'], { encoding: 'utf8', timeout: 19 * 60_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  assert.equal(r.status, 0, out);
  assert.match(out, /nothing acknowledged was lost/);
  assert.equal(out.match(/cuju demo: the backup( 2)? took over/g)?.length, 2, out);
  assert.match(out, /re-protected: backup 2/);
  assert.equal(out.match(/cuju demo: client: answered again \d+ ms after the fault, on the same TCP connection/g)?.length, 2, out);
  assert.match(out, /read back from the disk: R (\d+) \1 0/);
});

test('the demo refuses an unknown option in one line', () => {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist/src/demo/start.js'), '--bogus'], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stderr.trim().split('\n').at(-1), "cuju demo: unknown option '--bogus' (usage: npm start [-- --auto])");
});
