/**
 * The cuju command line: QEMU's syntax (`-opt value`, also `--opt value`),
 * read left to right; later single-valued options override earlier ones, as
 * in QEMU. -h and -version stop parsing where they stand, so a bad option
 * before them is still reported.
 */
import type { VmConfig } from './vm-config.js';
import { findOption, optionSynopsis } from './option-table.js';
import { ParseState } from './parse-state.js';
import { resolveConfig } from './resolve-config.js';
import { UsageError } from './usage-error.js';

export type ParsedCommand =
  | { kind: 'help' }
  | { kind: 'version' }
  /** `notes`: one line each about accepted options that have no or partial effect. */
  | { kind: 'run'; config: VmConfig; notes: string[] };

export function parseArgs(argv: readonly string[]): ParsedCommand {
  const state = new ParseState();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') {
      throw new UsageError(`unexpected argument '${arg}' (options start with '-'; a disk image goes in -drive file=PATH)`);
    }
    const option = findOption(arg.startsWith('--') ? arg.slice(2) : arg.slice(1));
    if (!option) throw new UsageError(`unknown option '${arg}' (see cuju --help)`);

    let value = '';
    if (option.arg !== undefined) {
      const flag = `-${option.names[0]}`;
      const usage = option.example !== undefined ? `e.g. ${flag} ${option.example}` : optionSynopsis(option);
      if (i + 1 >= argv.length) throw new UsageError(`${arg} needs a value (${usage})`);
      value = argv[++i];
      if (value === '' && !option.allowEmpty) throw new UsageError(`${arg}: empty value (${usage})`);
    }
    const outcome = option.apply(state, value);
    if (outcome === 'help' || outcome === 'version') return { kind: outcome };
  }
  const { config, notes } = resolveConfig(state);
  return { kind: 'run', config, notes };
}
