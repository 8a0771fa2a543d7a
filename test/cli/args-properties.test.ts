/** Property-based tests of the whole parser. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseArgs } from '../../src/cli/args/parse-args.js';
import { ALL_OPTIONS, findOption } from '../../src/cli/args/option-table.js';
import { UsageError } from '../../src/cli/args/usage-error.js';
import { MAX_MEMORY_MIB, MIN_MEMORY_MIB } from '../../src/cli/args/vm-config.js';

/** The ways QEMU lets one write `mib` MiB. */
function spellings(mib: number): string[] {
  // mib / 1024 is a short binary fraction, so its decimal form is exact (e.g. 0.0478515625G).
  return [`${mib}`, `${mib}M`, `${mib}m`, `${mib * 1024}K`, `${mib * 1024}k`, `${mib * 1024 * 1024}B`, `${mib / 1024}G`, `${mib / 1024}g`];
}

test('property: any in-range size in any QEMU spelling parses to its MiB', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: MIN_MEMORY_MIB, max: MAX_MEMORY_MIB }),
      fc.nat(),
      fc.boolean(),
      (mib, pick, withKey) => {
        const forms = spellings(mib);
        const size = forms[pick % forms.length];
        const result = parseArgs(['-m', withKey ? `size=${size}` : size]);
        assert.equal(result.kind === 'run' && result.config.memoryMiB, mib, `-m ${size}`);
      },
    ),
    { numRuns: 500 },
  );
});

test('property: out-of-range sizes are refused with the limit in the message', () => {
  const tooSmall = fc.integer({ min: 1, max: MIN_MEMORY_MIB - 1 });
  const tooBig = fc.integer({ min: MAX_MEMORY_MIB + 1, max: 1024 * 1024 });
  fc.assert(
    fc.property(fc.oneof(tooSmall, tooBig), fc.nat(), (mib, pick) => {
      const forms = spellings(mib);
      const size = forms[pick % forms.length];
      assert.throws(
        () => parseArgs(['-m', size]),
        (e: unknown) => e instanceof UsageError && (mib < MIN_MEMORY_MIB ? /at least -m 32/ : /limit of 3072 MiB/).test(e.message),
      );
    }),
  );
});

test('property: a size that is not whole MiB is refused, never rounded', () => {
  fc.assert(
    fc.property(fc.integer({ min: MIN_MEMORY_MIB * 1024, max: MAX_MEMORY_MIB * 1024 }).filter((k) => k % 1024 !== 0), (kib) => {
      assert.throws(() => parseArgs(['-m', `${kib}K`]), /not a whole number of MiB/);
    }),
  );
});

test('property: unknown flags always fail with a UsageError naming them', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 12 }), fc.boolean(), fc.boolean(), (name, doubleDash, withPrefix) => {
      const flag = `${doubleDash ? '--' : '-'}${name}`;
      fc.pre(findOption(flag.startsWith('--') ? flag.slice(2) : flag.slice(1)) === undefined);
      const argv = withPrefix ? ['-m', '256', '-nographic', flag, 'value'] : [flag];
      assert.throws(
        () => parseArgs(argv),
        (e: unknown) => e instanceof UsageError && e.message === `cuju: unknown option '${flag}' (see cuju --help)`,
      );
    }),
    { numRuns: 500 },
  );
});

/** Words likely to hit every code path: real flags, real values, and junk. */
const flagWord = fc.constantFrom(...ALL_OPTIONS.flatMap((o) => o.names.map((n) => `-${n}`)), '--m', '--nographic', '-bogus', '--');
const valueWord = fc.oneof(
  fc.constantFrom(
    '256', '1G', '12x', '0', '5', '2,sockets=1,cores=2', 'stdio', 'pty', 'none', 'null', 'mon:stdio', 'chardev:mon', 'chardev:',
    'socket,id=mon,path=/tmp/m,server,nowait', 'socket,id=mon', 'stdio,id=s', 'chardev=mon,mode=control,pretty=on',
    'unix:/tmp/q,server,nowait', 'unix:', 'tcp::4444,server', 'tcp:0:4441,ft_mode', 'tcp:[::1]:1,server', 'file:/x', 'defer',
    'tap,id=n0', 'if=none,,x', '=', ',', ',,', 'kvm', 'tcg', 'accel=tcg', '',
  ),
  fc.string({ maxLength: 16 }),
);

test('property: any argv either parses or fails with a UsageError, nothing else', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(flagWord, valueWord), { maxLength: 12 }), (argv) => {
      try {
        const result = parseArgs(argv);
        assert.ok(['help', 'version', 'run'].includes(result.kind));
      } catch (error) {
        assert.ok(error instanceof UsageError, `${JSON.stringify(argv)} threw ${String(error)}`);
        assert.ok(!error.message.includes('\n'), 'one-line message');
      }
    }),
    { numRuns: 2000 },
  );
});
