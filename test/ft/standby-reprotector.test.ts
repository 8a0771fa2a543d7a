/** StandbyReprotector's retry policy against scripted pairings (the real pairing: test/ft/engine/standby.test.ts). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StandbyReprotector, standbyInfoLine, type StandbyBlock } from '../../src/ft/standby.js';

function rig(results: (string | undefined)[], blocks: (StandbyBlock | undefined)[] = []) {
  const tried: string[] = [];
  const log: string[] = [];
  const r = new StandbyReprotector({
    pair: async (uri) => { tried.push(uri); return results.shift(); },
    blocked: () => blocks.shift(),
    log: (l) => log.push(l),
    retry: { firstMs: 10, maxMs: 40 },
  }, 'tcp:127.0.0.1:4441');
  return { r, tried, log };
}

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((res) => setTimeout(res, 5));
  assert.ok(cond(), what);
};

test('retries with doubling backoff up to the cap until the pairing succeeds, then stops', async () => {
  const { r, tried, log } = rig(['refused', 'refused', 'refused', 'refused', undefined]);
  r.protectionLost();
  await until(() => tried.length === 5 && r.status().attempts === 0, 'five attempts, the last one good');
  await new Promise((res) => setTimeout(res, 100));
  assert.equal(tried.length, 5, 'no attempt after success');
  const delays = log.filter((l) => /failed/.test(l)).map((l) => l.match(/next attempt in ([\d.]+) s/)![1]);
  assert.deepEqual(delays, ['0.0', '0.0', '0.0', '0.0']); // 10, 20, 40, 40 ms at one decimal of a second
  assert.match(log.at(-1)!, /re-protected on standby tcp:127\.0\.0\.1:4441 after 5 attempts/);
  assert.equal(r.status().lastError, undefined);
});

test('a final block (protected again, cancelled, fenced) ends the retries; a passing one waits', async () => {
  const { r, tried, log } = rig(['refused'], [undefined, { why: 'the VM is inmigrate', final: false }, { why: 'protection was ended on purpose', final: true }]);
  r.protectionLost();
  await until(() => log.some((l) => /no re-protection/.test(l)), 'the final block');
  assert.equal(tried.length, 1);
  assert.match(log.at(-1)!, /no re-protection on standby tcp:127\.0\.0\.1:4441: protection was ended on purpose/);
  assert.equal(r.status().nextInMs, undefined);
});

test('no standby: nothing happens; a standby set while unprotected is tried at once; none stops it', async () => {
  const tried: string[] = [];
  const log: string[] = [];
  const r = new StandbyReprotector({ pair: async (u) => { tried.push(u); return 'refused'; }, blocked: () => undefined, log: (l) => log.push(l), retry: { firstMs: 50, maxMs: 50 } });
  r.protectionLost();
  await new Promise((res) => setTimeout(res, 30));
  assert.equal(tried.length, 0);
  assert.match(standbyInfoLine(r.status()), /standby: none/);
  r.set('tcp:10.0.0.3:4441', true);
  await until(() => tried.length === 1, 'an attempt at once');
  assert.match(standbyInfoLine(r.status()), /attempt 1 failed \(refused\); next in 0\.\d s/);
  r.set(undefined, true);
  await new Promise((res) => setTimeout(res, 120));
  assert.equal(tried.length, 1, 'no attempt after the standby was unset');
  assert.match(log.at(-1)!, /no standby: re-protection is manual/);
});

test('a standby must be tcp:HOST:PORT', () => {
  const r = rig([]).r;
  assert.throws(() => r.set('file:/tmp/x', false), /the standby 'file:\/tmp\/x' must be tcp:HOST:PORT/);
  assert.throws(() => r.set('udp:1.2.3.4:5', false), /not a supported migration URI/);
  assert.throws(() => r.set('tcp:host', false), /./);
  assert.equal(r.uri, 'tcp:127.0.0.1:4441', 'a refused address leaves the standby as it was');
});
