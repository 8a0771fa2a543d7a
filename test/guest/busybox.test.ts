import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { BUSYBOX_PATH, busyboxApplets, checkRequiredApplets, LINKED_APPLETS, linkedApplets, missingApplets, REQUIRED_APPLETS } from '../../src/guest/busybox.js';
import { GuestBuildError } from '../../src/guest/errors.js';

test('missingApplets matches applet paths by their last component', () => {
  const applets = ['bin/sh', 'usr/sbin/httpd', 'bin/nc', 'sbin/ifconfig'];
  assert.deepEqual(missingApplets(applets, ['sh', 'httpd', 'nc', 'ifconfig']), []);
  assert.deepEqual(missingApplets(applets, ['wget', 'sh', 'route']), ['wget', 'route']);
  // "sbin" is a directory, not the applet "sbin"; "httpd2" is not "httpd".
  assert.deepEqual(missingApplets(['usr/sbin/httpd2'], ['sbin', 'httpd']), ['sbin', 'httpd']);
});

test('checkRequiredApplets names every missing applet and the package that has them', () => {
  const all = REQUIRED_APPLETS.map((name) => `bin/${name}`);
  assert.doesNotThrow(() => checkRequiredApplets(all));
  const withoutNet = all.filter((p) => p !== 'bin/httpd' && p !== 'bin/wget');
  assert.throws(
    () => checkRequiredApplets(withoutNet, '/opt/busybox'),
    (err: unknown) =>
      err instanceof GuestBuildError &&
      /\/opt\/busybox lacks the applet\(s\) httpd, wget/.test(err.message) &&
      /busybox-static/.test(err.message),
  );
});

test("the host's busybox has every applet the guest needs", { skip: existsSync(BUSYBOX_PATH) ? false : `${BUSYBOX_PATH} missing` }, async () => {
  assert.deepEqual(missingApplets(await busyboxApplets()), []);
});

test('links go only to applets run by path: the kernel, init, shebangs, nc -e, and everyday commands', () => {
  const all = ['bin/sh', 'sbin/init', 'sbin/poweroff', 'usr/bin/env', 'bin/cat', 'usr/sbin/httpd', 'usr/bin/nslookup', 'sbin/blkdiscard', 'bin/ls'];
  assert.deepEqual(linkedApplets(all), ['bin/sh', 'sbin/init', 'sbin/poweroff', 'usr/bin/env', 'bin/cat', 'usr/sbin/httpd', 'bin/ls']);
  for (const name of REQUIRED_APPLETS) assert.ok(LINKED_APPLETS.has(name), `${name} is required, so it is linked`);
});
