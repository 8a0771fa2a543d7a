/**
 * LineChannel (src/migration/line-channel.ts) over a real loopback socket: lines
 * split or batched any way arrive whole and in order, bytes handed over from the
 * stream reader come first, an over-long line and a closed peer reject the reader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineChannel } from '../../src/migration/line-channel.js';
import { MigrationProtocolError } from '../../src/migration/errors.js';
import { MAX_LINE } from '../../src/migration/wire.js';
import { socketPair } from './socket-pair.js';

test('lines split across writes, several per write, and initial bytes arrive in order', async () => {
  const { client, server, close } = await socketPair();
  try {
    const channel = new LineChannel(server, Buffer.from('{"type":"go"}\n{"ty'));
    client.write('pe":"abort","reason":"a"}\n{"n":1}\n{"n');
    await new Promise((r) => setTimeout(r, 10));
    client.write('":2}\n');
    assert.equal(await channel.next(), '{"type":"go"}');
    assert.equal(await channel.next(), '{"type":"abort","reason":"a"}');
    assert.equal(await channel.next(), '{"n":1}');
    assert.equal(await channel.next(), '{"n":2}');
  } finally {
    close();
  }
});

test('send writes to the peer; next() twice at once is a programming error', async () => {
  const { client, server, close } = await socketPair();
  try {
    const a = new LineChannel(server);
    const b = new LineChannel(client);
    a.send('hello\n');
    assert.equal(await b.next(), 'hello');
    const pending = a.next();
    assert.throws(() => a.next(), /called twice/);
    b.send('x\n');
    assert.equal(await pending, 'x');
  } finally {
    close();
  }
});

test('lines that arrived before the peer closed are still delivered, then the close rejects', async () => {
  const { client, server, close } = await socketPair();
  try {
    const channel = new LineChannel(server);
    client.end('{"type":"started"}\npartial-without-newline');
    assert.equal(await channel.next(), '{"type":"started"}');
    await assert.rejects(channel.next(), (e: unknown) => e instanceof MigrationProtocolError && /the peer closed the connection/.test(e.message));
    // And again: a failed channel stays failed.
    await assert.rejects(channel.next(), MigrationProtocolError);
  } finally {
    close();
  }
});

test('a waiting reader is rejected when the peer resets the connection', async () => {
  const { client, server, close } = await socketPair();
  try {
    const channel = new LineChannel(server);
    const waiting = channel.next();
    client.resetAndDestroy();
    await assert.rejects(waiting, (e: unknown) => e instanceof MigrationProtocolError && /connection failed|peer closed/.test(e.message));
  } finally {
    close();
  }
});

test('a line longer than MAX_LINE is damage: the reader is rejected, not fed megabytes', async () => {
  const { client, server, close } = await socketPair();
  try {
    const channel = new LineChannel(server);
    const waiting = channel.next();
    client.write('{"type":"error","message":"' + 'x'.repeat(MAX_LINE + 10));
    await assert.rejects(waiting, (e: unknown) => e instanceof MigrationProtocolError && /over-long message/.test(e.message));
  } finally {
    close();
  }
});

test('a line of exactly MAX_LINE characters is still a line', async () => {
  const { client, server, close } = await socketPair();
  try {
    const channel = new LineChannel(server);
    const line = 'y'.repeat(MAX_LINE);
    client.write(line.slice(0, 1000));
    client.write(line.slice(1000) + '\n');
    assert.equal(await channel.next(), line);
  } finally {
    close();
  }
});
