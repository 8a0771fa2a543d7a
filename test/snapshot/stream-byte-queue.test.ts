/**
 * StreamByteQueue's memory: a chunk it has handed out completely is no longer
 * referenced by the queue, even while a later chunk is still partly unread. (Kept
 * chunks survive V8 scavenges, move to the old generation and wait for a full GC: a
 * backup receiving ~170 MB/s of epochs held tens of MiB of them.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { StreamByteQueue } from '../../src/snapshot/stream-byte-queue.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Yields the chunks made by `make`, one per pull, then ends. */
async function* chunks(make: (() => Uint8Array)[]): AsyncGenerator<Uint8Array> {
  for (const m of make) yield m();
}

test('a chunk read to its end is not kept by the queue while the next one is still being read', async () => {
  let first: WeakRef<Uint8Array> | undefined;
  const q = new StreamByteQueue(chunks([
    () => {
      const c = new Uint8Array(64 * 1024).fill(1);
      first = new WeakRef(c);
      return c;
    },
    () => new Uint8Array(64 * 1024).fill(2),
  ]), 'test stream');
  // Ends 16 bytes into the second chunk: the queue still holds that one.
  const views = await q.pieces(64 * 1024 + 16, 'the data');
  assert.deepEqual(views.map((v) => v.length), [64 * 1024, 16]);
  views.length = 0;
  // Collections run after the async frames that held the chunk have returned.
  await new Promise((r) => setImmediate(r));
  gc();
  assert.equal(first?.deref(), undefined, 'the consumed chunk is still referenced');
  assert.deepEqual([...(await q.exact(4, 'more'))], [2, 2, 2, 2]);
});

test('bytes read across many chunks come out the same once consumed chunks are dropped', async () => {
  const sizes = [1, 7, 4096, 3, 65536, 100, 1, 1, 200];
  const all = Buffer.from(Array.from({ length: sizes.reduce((a, b) => a + b, 0) }, (_, i) => (i * 31 + 7) & 0xff));
  let at = 0;
  const q = new StreamByteQueue(chunks(sizes.map((n) => () => {
    const c = Uint8Array.from(all.subarray(at, at + n));
    at += n;
    return c;
  })), 'test stream');
  const got: Uint8Array[] = [];
  for (const n of [5, 4096, 3, 2, 65000, 1]) got.push(...(await q.pieces(n, 'a piece')));
  got.push(await q.exact(all.length - 69107, 'the rest'));
  assert.ok(Buffer.concat(got).equals(all));
  assert.equal(await q.atEnd(), true);
});
