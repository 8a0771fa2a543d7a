/**
 * RateLimitedWritable (src/migration/rate-limit.ts) in front of a slow sink: the
 * average rate stays at or below the limit, the sink's backpressure is honoured (the
 * limiter never piles data into a sink that said "stop"), and a closing sink fails it.
 * Only lower bounds on time are asserted, so a busy machine can't make it flaky.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { once } from 'node:events';
import { RateLimitedWritable } from '../../src/migration/rate-limit.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/** A sink that takes `CHUNK`-sized writes slowly and records how full it ever got. */
function slowSink(highWaterMark: number, delayMs: number) {
  // bytes: handed to the sink (its write() called), whether or not it processed them yet.
  const record = { bytes: 0, maxBuffered: 0, writesWhileFull: 0, full: false };
  const sink = new Writable({
    highWaterMark,
    write(_chunk: Buffer, _enc, done) {
      setTimeout(done, delayMs);
    },
  });
  const write = sink.write.bind(sink) as (chunk: Buffer) => boolean;
  sink.write = ((chunk: Buffer) => {
    record.bytes += chunk.length;
    if (record.full) record.writesWhileFull++;
    const ok = write(chunk);
    record.full = !ok;
    record.maxBuffered = Math.max(record.maxBuffered, sink.writableLength);
    return ok;
  }) as typeof sink.write;
  sink.on('drain', () => { record.full = false; });
  return { sink, record };
}

async function pump(limiter: Writable, total: number): Promise<void> {
  for (let sent = 0; sent < total; sent += CHUNK) {
    if (!limiter.write(Buffer.alloc(CHUNK, sent / CHUNK))) await once(limiter, 'drain');
  }
  limiter.end();
  await once(limiter, 'finish');
}

test('1 MiB at 4 MiB/s takes at least ~250 ms (asserted: 200 ms) and arrives whole', async () => {
  const { sink, record } = slowSink(16 * MiB, 0);
  const limiter = new RateLimitedWritable(sink, 4 * MiB);
  const t0 = performance.now();
  await pump(limiter, MiB);
  const ms = performance.now() - t0;
  assert.equal(record.bytes, MiB);
  assert.ok(ms >= 200, `took ${ms.toFixed(0)} ms, the limit allows no less than 250 ms`);
});

test('backpressure: nothing is written into a sink that asked to wait, until it drains', async () => {
  // 32 KiB high-water mark, 5 ms per write: the sink is the bottleneck, not the limit.
  const { sink, record } = slowSink(32 * 1024, 5);
  const limiter = new RateLimitedWritable(sink, 1024 * MiB);
  await pump(limiter, MiB);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(record.bytes, MiB);
  assert.equal(record.writesWhileFull, 0, 'the limiter wrote while the sink was full');
  assert.ok(record.maxBuffered <= 32 * 1024 + CHUNK, `the sink held ${record.maxBuffered} bytes`);
});

test('setRate raises the limit mid-stream: the rest goes out at the new rate', async () => {
  const { sink, record } = slowSink(16 * MiB, 0);
  const limiter = new RateLimitedWritable(sink, 256 * 1024);
  const t0 = performance.now();
  // At 256 KiB/s 1 MiB would take 4 s; after 64 KiB the rate goes to 1 GiB/s.
  limiter.write(Buffer.alloc(CHUNK));
  limiter.setRate(1024 * MiB);
  await pump(limiter, MiB - CHUNK);
  const ms = performance.now() - t0;
  assert.equal(record.bytes, MiB);
  assert.ok(ms < 3000, `took ${ms.toFixed(0)} ms after the limit was raised`);
});

test('a sink that closes or fails destroys the limiter with an error', async () => {
  const { sink } = slowSink(MiB, 0);
  const limiter = new RateLimitedWritable(sink, MiB);
  const failed = once(limiter, 'error');
  sink.destroy();
  const [e] = await failed;
  assert.match((e as Error).message, /connection closed/);

  const other = slowSink(MiB, 0);
  const limiter2 = new RateLimitedWritable(other.sink, MiB);
  const failed2 = once(limiter2, 'error');
  other.sink.destroy(new Error('EPIPE-like'));
  const [e2] = await failed2;
  assert.match((e2 as Error).message, /EPIPE-like/);
});
