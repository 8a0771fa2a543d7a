import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { BroadcastChardev } from '../../src/chardev/byte-chardev.js';
import { SocketServer } from '../../src/chardev/socket-server.js';
import { SocketClient, tempDir } from '../../src/monitor/client/socket-client.js';

test('a serial-style chardev sends output to every client and takes input from any', async () => {
  const tmp = tempDir();
  const path = join(tmp.dir, 'serial.sock');
  const server = await SocketServer.listen({ kind: 'socket', path, server: true, wait: false }, { role: 'serial' });
  const chardev = new BroadcastChardev(server);
  try {
    chardev.write(Buffer.from('lost: nobody connected\n'));
    const a = await SocketClient.connect(path);
    const b = await SocketClient.connect(path);
    await new Promise((r) => setTimeout(r, 20)); // let the server accept both
    chardev.write(Buffer.from('login: '));
    await a.waitFor('login: ');
    await b.waitFor('login: ');
    assert.equal(a.received, 'login: ');
    const typed = new Promise<string>((resolve) => chardev.once('data', (d: Buffer) => resolve(String(d))));
    b.write('root\n');
    assert.equal(await typed, 'root\n');
    a.close();
    b.close();
  } finally {
    await chardev.close();
    tmp.remove();
  }
});
