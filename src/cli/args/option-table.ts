/** Every option cuju accepts, looked up by any of its spellings. */
import type { OptionSpec } from './option-spec.js';
import { BOOT_OPTIONS } from './options-boot.js';
import { CHARDEV_OPTIONS } from './options-chardev.js';
import { COMPAT_OPTIONS } from './options-compat.js';
import { DEVICE_OPTIONS } from './options-devices.js';
import { PROCESS_OPTIONS } from './options-process.js';
import { STANDARD_OPTIONS } from './options-standard.js';

export const ALL_OPTIONS: readonly OptionSpec[] = [
  ...STANDARD_OPTIONS,
  ...BOOT_OPTIONS,
  ...CHARDEV_OPTIONS,
  ...DEVICE_OPTIONS,
  ...PROCESS_OPTIONS,
  ...COMPAT_OPTIONS,
];

const BY_NAME = new Map<string, OptionSpec>();
for (const option of ALL_OPTIONS) {
  for (const name of option.names) {
    // A clash would make one option unreachable; fail at load, not at some user's command line.
    if (BY_NAME.has(name)) throw new Error(`option table: '-${name}' is defined twice`);
    BY_NAME.set(name, option);
  }
}

/** The option for a spelling without its dashes ('m', 'smp', 'M'), if any. */
export function findOption(name: string): OptionSpec | undefined {
  return BY_NAME.get(name);
}

/** `-m [size=]SIZE` / `-nographic`: how the option is written, for help and messages. */
export function optionSynopsis(option: OptionSpec): string {
  const spellings = option.names.map((n) => `-${n}`).join(', ');
  return option.arg === undefined ? spellings : `${spellings} ${option.arg}`;
}
