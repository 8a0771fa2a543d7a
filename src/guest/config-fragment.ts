/**
 * The Kconfig fragment (guest/kernel/cuju.config) and the check that the final
 * .config really contains it. Kconfig silently drops an option whose dependencies
 * are not met, so without this check a typo or a missing dependency would only show
 * up as a guest that does not boot.
 */
import { KernelConfigMismatchError } from './errors.js';

/** One line of a fragment: `CONFIG_X=value`, or `# CONFIG_X is not set` (value null). */
export interface ConfigSetting {
  readonly option: string;
  /** The value as written after '=' (y, m, 4, "string"), or null for "is not set". */
  readonly value: string | null;
  readonly line: number;
}

const SET = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/;
const NOT_SET = /^# (CONFIG_[A-Za-z0-9_]+) is not set$/;

/** Parses Kconfig text (a fragment or a whole .config); other comments and blank lines are skipped. */
export function parseConfig(text: string): ConfigSetting[] {
  const settings: ConfigSetting[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    const set = SET.exec(line);
    if (set) {
      settings.push({ option: set[1], value: set[2], line: index + 1 });
      return;
    }
    const notSet = NOT_SET.exec(line);
    if (notSet) settings.push({ option: notSet[1], value: null, line: index + 1 });
  });
  return settings;
}

/** What went wrong with one fragment setting in the final .config. */
export interface ConfigMismatch {
  readonly wanted: ConfigSetting;
  /** The final value, null when "is not set" or absent. */
  readonly actual: string | null;
}

/**
 * Settings of `fragment` that `finalConfig` does not honour. A wanted "is not set"
 * (or `=n`) is honoured when the option is absent or not set; any other value must
 * be present verbatim.
 */
export function findConfigMismatches(fragment: string, finalConfig: string): ConfigMismatch[] {
  const actual = new Map<string, string | null>();
  for (const s of parseConfig(finalConfig)) actual.set(s.option, s.value);
  const mismatches: ConfigMismatch[] = [];
  for (const wanted of parseConfig(fragment)) {
    const got = actual.get(wanted.option) ?? null;
    const wantsOff = wanted.value === null || wanted.value === 'n';
    const ok = wantsOff ? got === null || got === 'n' : got === wanted.value;
    if (!ok) mismatches.push({ wanted, actual: got });
  }
  return mismatches;
}

function show(option: string, value: string | null): string {
  return value === null ? `${option} not set` : `${option}=${value}`;
}

/** Throws KernelConfigMismatchError naming every option the final .config lacks. */
export function verifyConfig(fragment: string, finalConfig: string, fragmentPath: string): void {
  const mismatches = findConfigMismatches(fragment, finalConfig);
  if (mismatches.length === 0) return;
  const lines = mismatches.map(
    (m) =>
      `  ${fragmentPath}:${m.wanted.line}: wants ${show(m.wanted.option, m.wanted.value)}, ` +
      `final .config has ${show(m.wanted.option, m.actual)}`,
  );
  throw new KernelConfigMismatchError(
    `the kernel .config does not honour ${mismatches.length} line(s) of the fragment:\n${lines.join('\n')}\n` +
      'Kconfig dropped them: the option does not exist in this kernel or its dependencies are not enabled. ' +
      'Enable the dependencies in the fragment (see "make menuconfig" help for the option) or remove the line.',
  );
}
