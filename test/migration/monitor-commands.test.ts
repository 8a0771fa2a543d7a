/** HMP's `migrate_set_parameter max-bandwidth SIZE` parser (QEMU's qemu_strtosz_MiB). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHmpBandwidth } from '../../src/migration/monitor-commands.js';
import { MonitorCommandError } from '../../src/monitor/errors.js';

test('sizes: suffixes B/K/M/G/T in either case, MiB without one, fractions rounded to bytes', () => {
  const cases: [string, number][] = [
    ['100', 100 * 2 ** 20], ['100M', 100 * 2 ** 20], ['100m', 100 * 2 ** 20], ['1G', 2 ** 30], ['1g', 2 ** 30],
    ['2T', 2 * 2 ** 40], ['512K', 512 * 1024], ['512k', 512 * 1024], ['4096B', 4096], ['4096b', 4096],
    ['1.5G', 1.5 * 2 ** 30], ['0.5', 2 ** 19], ['1.0000001B', 1], [' 32M ', 32 * 2 ** 20], ['0', 0],
  ];
  for (const [text, bytes] of cases) assert.equal(parseHmpBandwidth(text), bytes, text);
});

test('anything else is a MonitorCommandError naming the text and an example', () => {
  for (const text of ['', 'M', '-1M', '1 M', '1MB', '1MiB', '1e6', '0x10', '1.', '.5', 'ten', '1P', '1,5G']) {
    assert.throws(() => parseHmpBandwidth(text), (e: unknown) =>
      e instanceof MonitorCommandError && e.message === `Parameter 'max_bandwidth' expects a size such as 100M or 1G (got '${text}')`, JSON.stringify(text));
  }
});
