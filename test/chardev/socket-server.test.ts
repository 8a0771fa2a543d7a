import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { existsSync, lstatSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { SocketServer } from '../../src/chardev/socket-server.js';
import { ChardevError } from '../../src/chardev/errors.js';
import type { Session } from '../../src/chardev/session.js';
import { SocketClient, tempDir } from '../../src/monitor/client/socket-client.js';

function unixSpec(path: string) {
  return { kind: 'socket' as const, path, server: true as const, wait: false };
}

/** Echo server: each session answers its own client. */
function echo(server: SocketServer): void {
  server.on('session', (s: Session) => s.on('data', (d: Buffer) => s.write(`echo:${d}`)));
}

test('accepts several clients at once, each with its own session', async () => {
  const tmp = tempDir();
  const path = join(tmp.dir, 'a.sock');
  const server = await SocketServer.listen(unixSpec(path));
  echo(server);
  try {
    const a = await SocketClient.connect(path);
    const b = await SocketClient.connect(path);
    a.write('one');
    b.write('two');
    await a.waitFor('echo:one');
    await b.waitFor('echo:two');
    assert.equal(a.received, 'echo:one');
    assert.equal(b.received, 'echo:two');
    assert.equal(server.sessions().length, 2);
    a.close();
    b.close();
  } finally {
    await server.close();
    tmp.remove();
  }
});

test('close() disconnects clients and removes the socket file', async () => {
  const tmp = tempDir();
  const path = join(tmp.dir, 'b.sock');
  const server = await SocketServer.listen(unixSpec(path));
  const client = await SocketClient.connect(path);
  assert.ok(lstatSync(path).isSocket());
  await server.close();
  await client.ended;
  assert.equal(existsSync(path), false);
  tmp.remove();
});

test('a socket path with a live listener is refused with a clear ChardevError', async () => {
  const tmp = tempDir();
  const path = join(tmp.dir, 'busy.sock');
  const first = await SocketServer.listen(unixSpec(path));
  try {
    await assert.rejects(SocketServer.listen(unixSpec(path)), (err: unknown) => {
      assert.ok(err instanceof ChardevError);
      assert.equal(err.message, `monitor socket ${path} is in use by another process (is another cuju running?)`);
      return true;
    });
    assert.ok(existsSync(path), 'the live listener keeps its socket file');
  } finally {
    await first.close();
    tmp.remove();
  }
});

test('a stale socket file (nobody listening) is removed and reused', async () => {
  const tmp = tempDir();
  const path = join(tmp.dir, 'stale.sock');
  // Leave a socket file behind the way a crashed process does: a listener killed by SIGKILL.
  const child = spawnSync(process.execPath, [
    '-e',
    `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
  ]);
  assert.equal(child.signal, 'SIGKILL');
  assert.ok(lstatSync(path).isSocket());
  const server = await SocketServer.listen(unixSpec(path));
  echo(server);
  try {
    const client = await SocketClient.connect(path);
    client.write('hi');
    await client.waitFor('echo:hi');
    client.close();
  } finally {
    await server.close();
    tmp.remove();
  }
});

test('a regular file at the socket path is not deleted', async () => {
  const tmp = tempDir();
  const path = join(tmp.dir, 'file');
  writeFileSync(path, 'precious');
  await assert.rejects(SocketServer.listen(unixSpec(path)), /already exists and is not a socket/);
  assert.ok(existsSync(path));
  tmp.remove();
});

test('a missing directory and an overlong path are ChardevErrors naming the fix', async () => {
  const tmp = tempDir();
  await assert.rejects(
    SocketServer.listen(unixSpec(join(tmp.dir, 'nope', 'x.sock'))),
    (err: unknown) => err instanceof ChardevError && /directory .*nope does not exist/.test(err.message),
  );
  await assert.rejects(
    SocketServer.listen(unixSpec(join(tmp.dir, 'x'.repeat(120)))),
    (err: unknown) => err instanceof ChardevError && /longer than 107 bytes/.test(err.message),
  );
  tmp.remove();
});

test('TCP: port 0 picks a free port; a taken port is a ChardevError', async () => {
  const server = await SocketServer.listen({ kind: 'tcp', host: '127.0.0.1', port: 0, server: true, wait: false });
  echo(server);
  try {
    const port = Number(server.address.split(':')[2]);
    assert.ok(port > 0);
    const socket = net.connect(port, '127.0.0.1');
    const answer = await new Promise<string>((resolve) => {
      socket.on('data', (d) => resolve(String(d)));
      socket.write('x');
    });
    assert.equal(answer, 'echo:x');
    socket.destroy();
    await assert.rejects(
      SocketServer.listen({ kind: 'tcp', host: '127.0.0.1', port, server: true, wait: false }),
      /monitor port 127\.0\.0\.1:\d+ is in use by another process/,
    );
  } finally {
    await server.close();
  }
});

test('writes to a client that has gone are dropped, not thrown', async () => {
  const tmp = tempDir();
  const path = join(tmp.dir, 'gone.sock');
  const server = await SocketServer.listen(unixSpec(path));
  const sessionP = new Promise<Session>((resolve) => server.once('session', resolve));
  const client = await SocketClient.connect(path);
  const session = await sessionP;
  const closed = new Promise<void>((resolve) => session.once('close', resolve));
  client.close();
  await closed;
  assert.equal(session.closed, true);
  session.write('into the void');
  await session.drain();
  await server.close();
  tmp.remove();
});
