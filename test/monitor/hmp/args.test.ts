import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HmpArgSpecError, HmpArgumentError, parseArgSpec, parseHmpArguments, usageFromSpec } from '../../../src/monitor/hmp/args.js';

const parse = (spec: string, text: string) => parseHmpArguments('cmd', parseArgSpec(spec), text);

test('strings: words and quoted strings with escapes', () => {
  assert.equal(parse('uri:s', ' tcp:1.2.3.4:4444 ').string('uri'), 'tcp:1.2.3.4:4444');
  assert.equal(parse('a:s,b:s', '"two words" "q\\"\\n"').string('a'), 'two words');
  assert.equal(parse('a:s,b:s', '"two words" "q\\"\\n"').string('b'), 'q"\n');
  assert.throws(() => parse('a:s', '"open'), /unterminated string/);
  assert.equal(parse('rest:S', '  a b  c ').string('rest'), 'a b  c');
});

test('flags come first, in any order; unknown flags are refused', () => {
  const args = parse('detach:-d,resume:-r,uri:s', '-r -d exec:cat');
  assert.equal(args.flag('detach'), true);
  assert.equal(args.flag('resume'), true);
  assert.equal(args.string('uri'), 'exec:cat');
  assert.equal(parse('detach:-d,uri:s', 'x').flag('detach'), false);
  assert.throws(() => parse('detach:-d,uri:s', '-x u'), /^HmpArgumentError: cmd: unsupported option -x$/);
});

test('integers: decimal, hex, octal, 32-bit range; optional ones may be absent', () => {
  assert.equal(parse('n:i', '42').int('n'), 42);
  assert.equal(parse('n:i', '0x10').int('n'), 16);
  assert.equal(parse('n:i', '010').int('n'), 8);
  assert.equal(parse('n:i', '-3').int('n'), -3);
  assert.equal(parse('n:i?', '').optionalInt('n'), undefined);
  assert.throws(() => parse('n:i', '4294967296'), /integer is for 32-bit values/);
  assert.throws(() => parse('n:i', 'abc'), /cmd: integer expected/);
  assert.equal(parse('n:l', '4294967296').int64('n'), 4294967296n);
});

test('sizes default to MiB; booleans are on/off', () => {
  assert.equal(parse('v:o', '32').int('v'), 32 * 1024 * 1024);
  assert.equal(parse('v:o', '1G').int('v'), 1024 ** 3);
  assert.equal(parse('v:o', '512k').int('v'), 512 * 1024);
  assert.throws(() => parse('v:o', 'lots'), /invalid size/);
  assert.equal(parse('cap:s,state:b', 'ft on').bool('state'), true);
  assert.throws(() => parse('cap:s,state:b', 'ft yes'), /Expected 'on' or 'off'/);
});

test('missing and extra arguments get QEMU wording', () => {
  assert.throws(() => parse('uri:s', ''), (e: unknown) => e instanceof HmpArgumentError && e.message === 'cmd: string expected');
  assert.throws(() => parse('', 'junk'), /cmd: extraneous characters at the end of line/);
  assert.throws(() => parse('n:i', '1 2'), /extraneous characters/);
});

test('bad specs are programming errors; usage text is derived from the spec', () => {
  assert.throws(() => parseArgSpec('x:q'), HmpArgSpecError);
  assert.throws(() => parseArgSpec('nocolon'), HmpArgSpecError);
  assert.equal(usageFromSpec(parseArgSpec('cpustate_all:-a,vcpu:i?,uri:s')), '[-a] [vcpu] uri');
});
