/** `migrate URI` parsing (src/migration/uri.ts): QEMU's tcp:HOST:PORT and file:PATH. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMigrateUri } from '../../src/migration/uri.js';
import { MonitorCommandError } from '../../src/monitor/errors.js';

test('tcp URIs give host and port; "every address" becomes loopback for a client', () => {
  assert.deepEqual(parseMigrateUri('tcp:10.0.0.2:4444'), { kind: 'tcp', host: '10.0.0.2', port: 4444 });
  assert.deepEqual(parseMigrateUri('tcp:localhost:1'), { kind: 'tcp', host: 'localhost', port: 1 });
  assert.deepEqual(parseMigrateUri('tcp::4444'), { kind: 'tcp', host: '127.0.0.1', port: 4444 });
  assert.deepEqual(parseMigrateUri('tcp:0:4444'), { kind: 'tcp', host: '127.0.0.1', port: 4444 });
  assert.deepEqual(parseMigrateUri('tcp:0.0.0.0:65535'), { kind: 'tcp', host: '127.0.0.1', port: 65535 });
  assert.deepEqual(parseMigrateUri('tcp:[::1]:4444'), { kind: 'tcp', host: '::1', port: 4444 });
});

test('file URIs keep the path as given', () => {
  assert.deepEqual(parseMigrateUri('file:/tmp/vm.snap'), { kind: 'file', path: '/tmp/vm.snap' });
  assert.deepEqual(parseMigrateUri('file:relative/with:colon'), { kind: 'file', path: 'relative/with:colon' });
});

test('bad URIs are MonitorCommandErrors that say what to write instead', () => {
  const cases: [string, RegExp][] = [
    ['file:', /'file:' needs a path \(e\.g\. migrate file:\/tmp\/vm\.snap\)/],
    ['tcp:4444', /no port .*tcp:127\.0\.0\.1:4444/],
    ['tcp:host:', /is not a TCP port 1-65535/],
    ['tcp:host:0', /is not a TCP port/],
    ['tcp:host:65536', /is not a TCP port/],
    ['tcp:host:44x', /is not a TCP port/],
    ['tcp:::1:4444', /brackets/],
    ['exec:cat > /tmp/x', /'exec:cat > \/tmp\/x' is not a supported migration URI \(use tcp:HOST:PORT or file:PATH\)/],
    ['unix:/tmp/sock', /not a supported migration URI/],
    ['', /not a supported migration URI/],
    ['TCP:host:1', /not a supported migration URI/],
  ];
  for (const [uri, re] of cases) {
    assert.throws(() => parseMigrateUri(uri), (e: unknown) => e instanceof MonitorCommandError && re.test(e.message), uri);
  }
});
