/**
 * The demo's client against small TCP servers speaking cuju-kv's protocol: a faithful
 * one, and ones that forget acknowledged state the ways a bad failover would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { once } from 'node:events';
import { KvSession } from '../../src/demo/kv-session.js';

/** A cuju-kv stand-in; `forget` runs after each answer and may roll the state back. */
async function kvServer(forget: (s: { counter: number; records: number; served: number }) => void = () => {}): Promise<Server> {
  const server = createServer((socket) => {
    const state = { counter: 0, records: 0, served: 0 };
    let buf = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const req = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let answer: string;
        if (req === 'C') answer = `C ${++state.counter}`;
        else if (req.startsWith('W ')) answer = `W ${req.slice(2)} ${++state.records}`;
        else if (req === 'R') answer = `R ${state.records} ${state.records} 0`;
        else answer = `E ${req}`;
        state.served++;
        socket.write(`${answer}\n`);
        forget(state);
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

async function run(server: Server, answers: number): Promise<{ session: KvSession; end: { readBack: string | null; ok: boolean } }> {
  const session = await KvSession.open('127.0.0.1', (server.address() as AddressInfo).port, 1);
  while (session.stats.answers < answers && !session.stats.bad) await new Promise((r) => setTimeout(r, 5));
  const end = await session.finish(5000);
  server.close();
  return { session, end };
}

test('a faithful service: counter and records follow the acknowledged answers, the read-back matches', async () => {
  const { session, end } = await run(await kvServer(), 30);
  assert.equal(session.stats.bad, null);
  assert.ok(session.stats.counter >= 20 && session.stats.written >= 10, JSON.stringify(session.stats));
  assert.equal(end.readBack, `R ${session.stats.written} ${session.stats.written} 0`);
  assert.ok(end.ok);
});

test('a service that lost an acknowledged increment is caught', async () => {
  const { session, end } = await run(await kvServer((s) => { if (s.served === 10 && s.counter > 0) s.counter--; }), 30);
  assert.match(session.stats.bad ?? '', /after counter \d+ the guest answered "C \d+"/);
  assert.equal(end.ok, false);
});

test('a service that lost an acknowledged record is caught', async () => {
  const { session, end } = await run(await kvServer((s) => { if (s.served === 9 && s.records > 0) s.records--; }), 30);
  assert.match(session.stats.bad ?? '', /should hold exactly \d+ records/);
  assert.equal(end.ok, false);
});

test('a closed connection ends the session with the reason, and finish() does not hang', async () => {
  const server = createServer((socket) => socket.destroy());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const session = await KvSession.open('127.0.0.1', (server.address() as AddressInfo).port, 1);
  while (!session.stats.closed) await new Promise((r) => setTimeout(r, 5));
  const end = await session.finish(2000);
  server.close();
  assert.equal(end.readBack, null);
  assert.equal(end.ok, false);
});
