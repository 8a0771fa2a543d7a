/**
 * The shape of one command-line option: its spellings, whether it takes a
 * value, its help line, and what it does to the parse state. The option
 * tables (options-*.ts) are the single source for both parsing and --help.
 */
import type { ParseState } from './parse-state.js';

export type HelpGroup =
  | 'Standard options'
  | 'Boot'
  | 'Character devices and monitors'
  | 'Block, network and other devices'
  | 'Process and migration'
  | 'Cuju fault tolerance'
  | 'Accepted for QEMU compatibility (no effect)';

export const HELP_GROUP_ORDER: readonly HelpGroup[] = [
  'Standard options',
  'Boot',
  'Character devices and monitors',
  'Block, network and other devices',
  'Process and migration',
  'Cuju fault tolerance',
  'Accepted for QEMU compatibility (no effect)',
];

/** What the parser should do after an option: keep going, or stop with help/version. */
export type OptionOutcome = void | 'help' | 'version';

export interface OptionSpec {
  /** Spellings without the leading dash; the first is shown in help. */
  names: readonly string[];
  /** Metavariable of the value (e.g. 'SIZE'); absent for a flag without a value. */
  arg?: string;
  /** An example value, used in the "needs a value" message. */
  example?: string;
  /** Whether '' is a meaningful value (e.g. -append ""); otherwise it is refused. */
  allowEmpty?: boolean;
  group: HelpGroup;
  /** One line for --help. */
  help: string;
  /** `value` is '' for flags without a value. */
  apply(state: ParseState, value: string): OptionOutcome;
}
