import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { boolValue, formatKeyValue, parseKeyValue } from '../../src/cli/args/key-value.js';
import { UsageError } from '../../src/cli/args/usage-error.js';

test('plain key=value pairs keep their order', () => {
  const list = parseKeyValue('if=none,id=drive0,cache=none,format=raw,file=IMG');
  assert.deepEqual(list.entries, [
    { key: 'if', value: 'none' },
    { key: 'id', value: 'drive0' },
    { key: 'cache', value: 'none' },
    { key: 'format', value: 'raw' },
    { key: 'file', value: 'IMG' },
  ]);
});

test('a bare first item is the value of the implied key', () => {
  assert.deepEqual(parseKeyValue('tap,id=n0', { impliedKey: 'type' }).toRecord(), { type: 'tap', id: 'n0' });
  // An explicit key in first place is just a key, implied key or not.
  assert.deepEqual(parseKeyValue('type=tap,id=n0', { impliedKey: 'type' }).toRecord(), { type: 'tap', id: 'n0' });
});

test('bare later items are flags, and a leading "no" turns them off', () => {
  const list = parseKeyValue('socket,id=mon,path=/x,server,nowait,nodelay', { impliedKey: 'backend' });
  assert.deepEqual(list.toRecord(), { backend: 'socket', id: 'mon', path: '/x', server: 'on', wait: 'off', delay: 'off' });
});

test('without an implied key a bare first item is a flag too', () => {
  assert.deepEqual(parseKeyValue('readonly,file=a').toRecord(), { readonly: 'on', file: 'a' });
});

test('",," is a literal comma in values, including the implied one', () => {
  assert.equal(parseKeyValue('file=/a,,b,,,if=none').get('file'), '/a,b,');
  assert.equal(parseKeyValue('file=/a,,b,,,if=none').get('if'), 'none');
  assert.equal(parseKeyValue('/tmp/x,,y,server', { impliedKey: 'path' }).get('path'), '/tmp/x,y');
});

test('values may contain "=" and may be empty; a trailing comma is ignored', () => {
  assert.deepEqual(parseKeyValue('append=a=b c=d,file=,').entries, [
    { key: 'append', value: 'a=b c=d' },
    { key: 'file', value: '' },
  ]);
  assert.deepEqual(parseKeyValue('').entries, []);
});

test('the last occurrence of a key wins', () => {
  assert.equal(parseKeyValue('a=1,b=2,a=3').get('a'), '3');
  assert.deepEqual(parseKeyValue('a=1,b=2,a=3').keys(), ['a', 'b']);
});

test('empty names are usage errors naming the flag', () => {
  const named = (pattern: RegExp) => (e: unknown) => e instanceof UsageError && pattern.test(e.message);
  assert.throws(() => parseKeyValue('=x', { flag: '-drive' }), named(/^cuju: -drive: missing name before '='/));
  assert.throws(() => parseKeyValue(',a=1', { flag: '-drive' }), named(/^cuju: -drive: empty item/));
  // ",," at the end is an escaped comma, not an empty item.
  assert.equal(parseKeyValue('a=1,,').get('a'), '1,');
});

test('QEMU boolean spellings', () => {
  for (const word of ['on', 'yes', 'true']) assert.equal(boolValue(word, 'k', '-x'), true);
  for (const word of ['off', 'no', 'false']) assert.equal(boolValue(word, 'k', '-x'), false);
  assert.throws(() => boolValue('maybe', 'wait', '-chardev'), /-chardev: wait='maybe' is not on or off/);
});

const keyArb = fc.stringMatching(/^[a-z][a-z0-9_.-]{0,10}$/);
const valueArb = fc.string({ maxLength: 20 });
/** fc.record builds null-prototype objects, which strict deepEqual tells apart from literals. */
const entryArb = (value: fc.Arbitrary<string>) => fc.tuple(keyArb, value).map(([key, v]) => ({ key, value: v }));

test('property: explicit key=value lists with commas in values round-trip', () => {
  fc.assert(
    fc.property(fc.array(entryArb(valueArb), { maxLength: 8 }), (entries) => {
      assert.deepEqual(parseKeyValue(formatKeyValue(entries)).entries, entries);
    }),
  );
});

test('property: values full of commas and "=" round-trip', () => {
  const tricky = fc.stringMatching(/^[,=a]{0,12}$/);
  fc.assert(
    fc.property(fc.array(entryArb(tricky), { minLength: 1, maxLength: 5 }), (entries) => {
      assert.deepEqual(parseKeyValue(formatKeyValue(entries)).entries, entries);
    }),
  );
});

test('property: an implied first value with escaped commas round-trips', () => {
  fc.assert(
    fc.property(
      fc.stringMatching(/^[^=]{1,15}$/),
      fc.array(entryArb(valueArb), { maxLength: 4 }),
      (implied, rest) => {
        const text = [implied.replaceAll(',', ',,'), ...(rest.length ? [formatKeyValue(rest)] : [])].join(',');
        assert.deepEqual(parseKeyValue(text, { impliedKey: 'type' }).entries, [{ key: 'type', value: implied }, ...rest]);
      },
    ),
  );
});

test('property: any string either parses or fails with a UsageError', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 30 }), fc.option(keyArb, { nil: undefined }), (text, impliedKey) => {
      try {
        parseKeyValue(text, { impliedKey, flag: '-x' });
      } catch (error) {
        assert.ok(error instanceof UsageError, String(error));
      }
    }),
  );
});
