import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openSync, readSync, writeSync, closeSync, existsSync } from 'node:fs';
import { PtyEndpoint, type PtyAllocator } from '../../src/chardev/pty.js';
import { ChardevError } from '../../src/chardev/errors.js';
import type { Session } from '../../src/chardev/session.js';
import { nativePtyAllocator } from '../../src/chardev/native-pty.js';
import { native } from '../../src/kvm/native.js';

test('without an allocator, pty chardevs are refused with a way out', () => {
  assert.throws(
    () => PtyEndpoint.open(undefined),
    (err: unknown) => err instanceof ChardevError && /use a socket instead/.test(err.message),
  );
});

/** The allocator cuju installs at start-up (src/chardev/native-pty.ts). */
const nativeAllocator = (): PtyAllocator => nativePtyAllocator;

function ptySkipReason(): string | false {
  try {
    native();
  } catch {
    return 'needs the native addon (npm install)';
  }
  return existsSync('/dev/ptmx') ? false : 'needs /dev/ptmx';
}

test('with an allocator, bytes flow both ways between the session and the slave', { skip: ptySkipReason() }, async () => {
  const endpoint = PtyEndpoint.open(nativeAllocator());
  const sessionP = new Promise<Session>((resolve) => endpoint.once('session', resolve));
  endpoint.start();
  const session = await sessionP;
  const slave = openSync(endpoint.pty.slavePath, 'r+');
  try {
    const got = new Promise<string>((resolve) => session.once('data', (d: Buffer) => resolve(String(d))));
    writeSync(slave, 'typed\n');
    assert.match(await got, /^typed\r?\n$/); // the slave's ONLCR may turn \n into \r\n
    session.write('answer');
    await session.drain();
    const buffer = Buffer.alloc(64);
    const n = readSync(slave, buffer);
    assert.equal(buffer.subarray(0, n).toString(), 'answer');
  } finally {
    closeSync(slave);
    await endpoint.close();
  }
});
