import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { QmpJsonStreamer, type StreamItem } from '../../../src/monitor/qmp/json-streamer.js';

function feedAll(streamer: QmpJsonStreamer, ...chunks: string[]): StreamItem[] {
  return chunks.flatMap((c) => streamer.feed(c));
}

test('values are found by brace counting: split across chunks, several per line, braces in strings', () => {
  const items = feedAll(new QmpJsonStreamer(), '{"execute":', ' "a}"}{"b": [1, {"c": "\\"{"}]}', '\n');
  assert.deepEqual(items, [
    { kind: 'value', value: { execute: 'a}' } },
    { kind: 'value', value: { b: [1, { c: '"{' }] } },
  ]);
});

test('a malformed value is an error and the stream carries on', () => {
  const items = feedAll(new QmpJsonStreamer(), '{"execute": }\n{"execute": "x"}\n');
  assert.equal(items[0].kind, 'error');
  assert.match((items[0] as { desc: string }).desc, /^JSON parse error, /);
  assert.deepEqual(items[1], { kind: 'value', value: { execute: 'x' } });
});

test('top-level scalars are values (the dispatcher rejects them); stray closers are errors', () => {
  const items = feedAll(new QmpJsonStreamer(), '1 "s" true }');
  assert.deepEqual(items.slice(0, 3), [
    { kind: 'value', value: 1 },
    { kind: 'value', value: 's' },
    { kind: 'value', value: true },
  ]);
  assert.equal(items[3].kind, 'error');
  assert.equal(feedAll(new QmpJsonStreamer(), 'foo\n')[0].kind, 'error');
});

test('a control character discards a half-sent value (QEMU resynchronisation)', () => {
  const items = feedAll(new QmpJsonStreamer(), '{"execute": "x", ', '\x01', '{"execute": "y"}');
  assert.equal(items[0].kind, 'error');
  assert.deepEqual(items[1], { kind: 'value', value: { execute: 'y' } });
});

test('an incomplete value beyond the limit overflows; nesting is bounded', () => {
  const streamer = new QmpJsonStreamer(1000);
  assert.deepEqual(streamer.feed('{"a": "' + 'x'.repeat(500)), []);
  const items = streamer.feed('x'.repeat(600));
  assert.equal(items.length, 1);
  assert.equal(items[0].kind, 'overflow');
  assert.deepEqual(streamer.feed('{}'), [], 'nothing more is accepted after an overflow');
  const deep = new QmpJsonStreamer(1 << 20, 8).feed('['.repeat(9));
  assert.match((deep[0] as { desc: string }).desc, /nesting too deep/);
});

test('property: any sequence of objects, serialized and chunked anyhow, comes back intact', () => {
  const json = fc.jsonValue({ maxDepth: 3 });
  const object = fc.dictionary(fc.string({ maxLength: 6 }), json, { maxKeys: 4 });
  fc.assert(
    fc.property(fc.array(object, { maxLength: 5 }), fc.array(fc.nat(), { maxLength: 6 }), fc.constantFrom('', '\n', ' \r\n'), (objects, cuts, sep) => {
      const text = objects.map((o) => JSON.stringify(o)).join(sep);
      const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
      const streamer = new QmpJsonStreamer();
      const got: StreamItem[] = [];
      let prev = 0;
      for (const p of [...points, text.length]) {
        got.push(...streamer.feed(text.slice(prev, p)));
        prev = p;
      }
      assert.deepEqual(got, objects.map((o) => ({ kind: 'value', value: JSON.parse(JSON.stringify(o)) })));
    }),
  );
});
