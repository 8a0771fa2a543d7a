import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { StdioEndpoint } from '../../src/chardev/stdio.js';
import type { Session } from '../../src/chardev/session.js';

test('stdio gives one session over the given streams and never closes stdout', async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  const endpoint = new StdioEndpoint(input, output);
  const sessionP = new Promise<Session>((resolve) => endpoint.once('session', resolve));
  endpoint.start();
  const session = await sessionP;
  assert.equal(session.echoesInput, false, 'a pipe does not echo');
  const got = new Promise<string>((resolve) => session.once('data', (d: Buffer) => resolve(String(d))));
  input.write('info status\n');
  assert.equal(await got, 'info status\n');
  session.write('VM status: running\r\n');
  assert.equal(String(output.read()), 'VM status: running\r\n');
  await endpoint.close();
  assert.equal(session.closed, true);
  assert.equal(output.writableEnded, false);
});

test('a TTY on stdin echoes by itself, so the session says so', () => {
  const input = Object.assign(new PassThrough(), { isTTY: true });
  const endpoint = new StdioEndpoint(input, new PassThrough());
  let echoes: boolean | undefined;
  endpoint.on('session', (s: Session) => (echoes = s.echoesInput));
  endpoint.start();
  assert.equal(echoes, true);
});

test('end of stdin ends the session', async () => {
  const input = new PassThrough();
  const endpoint = new StdioEndpoint(input, new PassThrough());
  const sessionP = new Promise<Session>((resolve) => endpoint.once('session', resolve));
  endpoint.start();
  const session = await sessionP;
  const closed = new Promise<void>((resolve) => session.once('close', resolve));
  input.end();
  await closed;
  assert.equal(endpoint.sessions().length, 0);
});
