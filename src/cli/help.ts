/**
 * `cuju --help` and `cuju --version`. The help text is generated from the
 * option tables, so every accepted flag is listed exactly once, grouped like
 * QEMU's own help.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALL_OPTIONS, optionSynopsis } from './args/option-table.js';
import { HELP_GROUP_ORDER, type HelpGroup } from './args/option-spec.js';

/** Text shown under a group, for syntax several of its options share. */
const GROUP_FOOTERS: Partial<Record<HelpGroup, string[]>> = {
  'Character devices and monitors': [
    'DEV (for -serial, -monitor, -qmp): stdio | pty | null | none | chardev:ID',
    '  | unix:PATH,server[,nowait] | tcp:HOST:PORT,server[,nowait]',
    'cuju has no multiplexer: each chardev, and stdio, serves one user.',
  ],
};

/** Options whose synopsis is longer than this get their help on the next line. */
const SYNOPSIS_COLUMN = 34;

export function helpText(): string {
  const lines = [
    'usage: cuju [options]',
    '',
    'Runs one virtual machine on Linux KVM, with a QEMU-compatible command line.',
    'Every option may also be written with two dashes (--m 256).',
  ];
  for (const group of HELP_GROUP_ORDER) {
    const options = ALL_OPTIONS.filter((o) => o.group === group);
    if (options.length === 0) continue;
    lines.push('', `${group}:`);
    for (const option of options) {
      const synopsis = optionSynopsis(option);
      if (synopsis.length < SYNOPSIS_COLUMN) {
        lines.push(`  ${synopsis.padEnd(SYNOPSIS_COLUMN)}${option.help}`);
      } else {
        lines.push(`  ${synopsis}`, `  ${' '.repeat(SYNOPSIS_COLUMN)}${option.help}`);
      }
    }
    for (const footer of GROUP_FOOTERS[group] ?? []) lines.push(`  ${footer}`);
  }
  lines.push(
    '',
    'Example (the original Cuju primary, with a kernel instead of a disk boot):',
    '  cuju -m 1G -smp 2 -kernel bzImage -append console=ttyS0 -nographic \\',
    '       -chardev socket,id=mon,path=/tmp/vm1.monitor,server,nowait -mon chardev=mon,mode=readline',
    '',
  );
  return lines.join('\n');
}

export function versionText(): string {
  return `cuju ${packageVersion()} (QEMU-compatible command line, KVM)`;
}

let cachedVersion: string | undefined;

/**
 * The version from cuju's package.json, found by walking up from this file:
 * the compiled file sits deeper (dist/src/cli) than the source (src/cli).
 */
function packageVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const found = readCujuVersion(join(dir, 'package.json'));
    if (found !== undefined) return (cachedVersion = found);
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cuju's package.json was not found above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

function readCujuVersion(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const pkg = JSON.parse(text) as { name?: unknown; version?: unknown };
  return pkg.name === 'cuju' && typeof pkg.version === 'string' ? pkg.version : undefined;
}
