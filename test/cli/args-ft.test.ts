/** -ft-heartbeat and -ft-key: parsed and checked at startup, one-line errors naming the fix. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, usageError } from './helpers.js';

test('-ft-heartbeat: period and timeout in us, ms or s (a bare number is ms)', () => {
  assert.deepEqual(run('-ft-heartbeat 10ms,timeout=100ms').config.ft.heartbeat, { periodMs: 10, timeoutMs: 100 });
  assert.deepEqual(run('-ft-heartbeat 5ms,timeout=1s').config.ft.heartbeat, { periodMs: 5, timeoutMs: 1000 });
  assert.deepEqual(run('-ft-heartbeat 2500us,timeout=0.05s').config.ft.heartbeat, { periodMs: 2.5, timeoutMs: 50 });
  assert.deepEqual(run('-ft-heartbeat period=20,timeout=200').config.ft.heartbeat, { periodMs: 20, timeoutMs: 200 });
  // Without timeout=: ten periods.
  assert.deepEqual(run('-ft-heartbeat 20ms').config.ft.heartbeat, { periodMs: 20, timeoutMs: 200 });
  assert.equal(run([]).config.ft.heartbeat, undefined);
});

test('-ft-heartbeat: bad values are one-line usage errors', () => {
  usageError('-ft-heartbeat', /-ft-heartbeat needs a value/);
  usageError('-ft-heartbeat fast', /-ft-heartbeat: period 'fast' is not a duration: write it as e\.g\. 10ms, 1s or 500us/);
  usageError('-ft-heartbeat 10ms,timeout=soon', /timeout 'soon' is not a duration/);
  usageError('-ft-heartbeat 10min', /period '10min' is not a duration/);
  usageError('-ft-heartbeat -5ms', /period '-5ms' is not a duration/);
  usageError('-ft-heartbeat 10ms,interval=5ms', /unknown option 'interval=5ms' in '10ms,interval=5ms' \(only timeout=T is known/);
  usageError('-ft-heartbeat 10ms,timeout', /unknown option 'timeout'/);
  usageError('-ft-heartbeat ,timeout=100ms', /the period comes first/);
  usageError('-ft-heartbeat 500us', /the heartbeat period must be 1 ms to 10 s \(got 0\.5 ms\)/);
  usageError('-ft-heartbeat 20s', /the heartbeat period must be 1 ms to 10 s/);
  usageError('-ft-heartbeat 10ms,timeout=15ms', /the heartbeat timeout \(15 ms\) must be at least 2 periods \(20 ms\)/);
  usageError('-ft-heartbeat 10ms,timeout=3600s', /the heartbeat timeout must be at most 600 s/);
});

test('-ft-key: the file is read at startup; missing, short or unreadable keys are one-line errors', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cuju-ft-key-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const good = join(dir, 'good.key');
  writeFileSync(good, 'k'.repeat(32));
  const { config } = run(['-ft-key', good]);
  assert.equal(config.ft.keyFile, good);
  assert.deepEqual(config.ft.key, Buffer.from('k'.repeat(32)));

  const missing = join(dir, 'missing.key');
  usageError(['-ft-key', missing], new RegExp(`-ft-key ${missing}: no such file: create one with 'head -c 32 /dev/urandom > ${missing}' and copy it to both hosts`));
  const short = join(dir, 'short.key');
  writeFileSync(short, 'fifteen bytes!!');
  usageError(['-ft-key', short], /holds 15 bytes, a key needs at least 16: create one with/);
  writeFileSync(join(dir, 'sixteen.key'), 'x'.repeat(16));
  assert.equal(run(['-ft-key', join(dir, 'sixteen.key')]).config.ft.key?.length, 16);
  usageError(['-ft-key', dir], /is a directory: give the key file itself/);
  if (process.getuid?.() !== 0) {
    const locked = join(dir, 'locked.key');
    writeFileSync(locked, 'k'.repeat(32));
    chmodSync(locked, 0);
    usageError(['-ft-key', locked], /permission denied: make it readable/);
  }
  usageError('-ft-key', /-ft-key needs a value/);
});

test('-ft-standby: tcp:HOST:PORT only, one-line errors otherwise', () => {
  assert.equal(run('-ft-standby tcp:10.0.0.3:4441').config.ft.standby, 'tcp:10.0.0.3:4441');
  assert.equal(run([]).config.ft.standby, undefined);
  usageError('-ft-standby file:/tmp/vm.snap', /-ft-standby: the standby 'file:\/tmp\/vm\.snap' must be tcp:HOST:PORT \(a VMM started with -incoming tcp:0:PORT,ft_mode\)/);
  usageError('-ft-standby 10.0.0.3:4441', /-ft-standby: '10\.0\.0\.3:4441' is not a supported migration URI \(use tcp:HOST:PORT/);
  usageError('-ft-standby tcp:10.0.0.3', /-ft-standby: /);
});
