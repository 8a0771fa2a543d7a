/** Shared helpers for the command-line tests. */
import assert from 'node:assert/strict';
import { parseArgs } from '../../src/cli/args/parse-args.js';
import { UsageError } from '../../src/cli/args/usage-error.js';
import type { VmConfig } from '../../src/cli/args/vm-config.js';

/** Splits a shell-free command line on spaces (test inputs contain no quoting). */
export function words(line: string): string[] {
  return line.split(' ').filter((w) => w !== '');
}

/** Parses argv that must describe a VM to run. */
export function run(argv: string[] | string): { config: VmConfig; notes: string[] } {
  const result = parseArgs(typeof argv === 'string' ? words(argv) : argv);
  assert.equal(result.kind, 'run');
  if (result.kind !== 'run') throw new Error('unreachable');
  return { config: result.config, notes: result.notes };
}

/** Asserts that parsing throws a UsageError whose one-line message matches. */
export function usageError(argv: string[] | string, message: RegExp): UsageError {
  let caught: unknown;
  try {
    parseArgs(typeof argv === 'string' ? words(argv) : argv);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof UsageError, `expected a UsageError, got ${String(caught)}`);
  assert.match(caught.message, message);
  assert.ok(caught.message.startsWith('cuju: '), caught.message);
  assert.ok(!caught.message.includes('\n'), 'message is one line');
  return caught;
}
