/**
 * HMP argument parsing, driven by QEMU's args_type strings
 * (hmp-commands.hx): comma-separated `name:type`, `?` after the type makes it
 * optional. Types:
 *   s  one word or a "quoted string" (\n \r \\ \' \" escapes)
 *   F  file name (as s), B  device name (as s)
 *   S  the rest of the line
 *   i  32-bit integer (decimal, 0x hex, 0 octal), l  64-bit integer
 *   o  size; suffix B/K/M/G/T, MiB when none (QEMU's qemu_strtosz_MiB)
 *   b  on|off
 *   -x a flag `-x` (must come before the positional arguments)
 * e.g. migrate: "detach:-d,resume:-r,uri:s"; info registers: "cpustate_all:-a,vcpu:i?".
 * Error wording follows QEMU's monitor_parse_arguments().
 */

export type HmpArgType = 's' | 'F' | 'B' | 'S' | 'i' | 'l' | 'o' | 'b' | 'flag';

export interface HmpArgSpec {
  name: string;
  type: HmpArgType;
  optional: boolean;
  /** For flags: the option letter. */
  letter?: string;
}

export type HmpArgValue = string | number | bigint | boolean | undefined;

/** A command's arguments spec string is wrong: a programming error in the command table. */
export class HmpArgSpecError extends Error {
  override readonly name = 'HmpArgSpecError';
}

/** The user's arguments do not fit the command; the message is what QEMU prints. */
export class HmpArgumentError extends Error {
  override readonly name = 'HmpArgumentError';
}

const TYPE_LETTERS = new Set(['s', 'F', 'B', 'S', 'i', 'l', 'o', 'b']);

export function parseArgSpec(spec: string): HmpArgSpec[] {
  if (spec.trim() === '') return [];
  return spec.split(',').map((part) => {
    const match = /^([A-Za-z0-9_-]+):(-[A-Za-z]|[A-Za-z])(\??)$/.exec(part.trim());
    if (!match) throw new HmpArgSpecError(`bad HMP argument spec '${part}' in '${spec}'`);
    const [, name, type, optional] = match;
    if (type.startsWith('-')) return { name, type: 'flag', optional: true, letter: type[1] };
    if (!TYPE_LETTERS.has(type)) throw new HmpArgSpecError(`unknown HMP argument type '${type}' in '${spec}'`);
    return { name, type: type as HmpArgType, optional: optional === '?' };
  });
}

/** Usage text QEMU-style for `help`: `[-a] [vcpu]`, `uri`, ... */
export function usageFromSpec(specs: readonly HmpArgSpec[]): string {
  return specs
    .map((s) => (s.type === 'flag' ? `[-${s.letter}]` : s.optional ? `[${s.name}]` : s.name))
    .join(' ');
}

/** Parsed arguments with typed getters, so handlers need no casts. */
export class HmpArgs {
  constructor(private readonly values: ReadonlyMap<string, HmpArgValue>) {}

  has(name: string): boolean {
    return this.values.get(name) !== undefined;
  }
  string(name: string): string {
    return this.expect(name, 'string') as string;
  }
  optionalString(name: string): string | undefined {
    return this.values.get(name) as string | undefined;
  }
  int(name: string): number {
    return this.expect(name, 'number') as number;
  }
  optionalInt(name: string): number | undefined {
    return this.values.get(name) as number | undefined;
  }
  int64(name: string): bigint {
    return this.expect(name, 'bigint') as bigint;
  }
  bool(name: string): boolean {
    return this.expect(name, 'boolean') as boolean;
  }
  /** A `-x` flag: false when not given. */
  flag(name: string): boolean {
    return this.values.get(name) === true;
  }

  private expect(name: string, type: string): HmpArgValue {
    const value = this.values.get(name);
    if (typeof value !== type) throw new HmpArgSpecError(`HMP argument '${name}' is not a ${type} (got ${typeof value})`);
    return value;
  }
}

/** Cursor over the argument text. */
class Scanner {
  pos = 0;
  constructor(readonly text: string) {}
  skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++;
  }
  atEnd(): boolean {
    this.skipSpace();
    return this.pos >= this.text.length;
  }
  peekWord(): string {
    this.skipSpace();
    const end = this.wordEnd();
    return this.text.slice(this.pos, end);
  }
  word(): string {
    const w = this.peekWord();
    this.pos += w.length;
    return w;
  }
  rest(): string {
    const r = this.text.slice(this.pos).trim();
    this.pos = this.text.length;
    return r;
  }
  private wordEnd(): number {
    let end = this.pos;
    while (end < this.text.length && !/\s/.test(this.text[end])) end++;
    return end;
  }
}

const ESCAPES: Record<string, string> = { n: '\n', r: '\r', '\\': '\\', "'": "'", '"': '"' };

/** QEMU's get_str(): a word, or a double-quoted string with escapes. */
function readString(scanner: Scanner): string {
  scanner.skipSpace();
  if (scanner.text[scanner.pos] !== '"') return scanner.word();
  let out = '';
  let i = scanner.pos + 1;
  for (; i < scanner.text.length && scanner.text[i] !== '"'; i++) {
    let c = scanner.text[i];
    if (c === '\\') {
      const next = scanner.text[++i];
      if (next === undefined) break;
      const mapped = ESCAPES[next];
      if (mapped === undefined) throw new HmpArgumentError(`unsupported escape code: '\\${next}'`);
      c = mapped;
    }
    out += c;
  }
  if (i >= scanner.text.length) throw new HmpArgumentError('unterminated string');
  scanner.pos = i + 1;
  return out;
}

const INTEGER = /^[-+]?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/;

function parseInteger(word: string, command: string): bigint {
  if (!INTEGER.test(word)) throw new HmpArgumentError(`${command}: integer expected`);
  const negative = word.startsWith('-');
  const digits = word.replace(/^[-+]/, '');
  const magnitude = digits.length > 1 && digits.startsWith('0') && !/^0[xX]/.test(digits)
    ? BigInt('0o' + digits.slice(1))
    : BigInt(digits);
  return negative ? -magnitude : magnitude;
}

const SIZE_UNITS: Record<string, bigint> = {
  b: 1n,
  k: 1n << 10n,
  m: 1n << 20n,
  g: 1n << 30n,
  t: 1n << 40n,
  p: 1n << 50n,
  e: 1n << 60n,
};

function parseSize(word: string): number {
  const match = /^(\d+(?:\.\d+)?)([bBkKmMgGtTpPeE]?)$/.exec(word);
  if (!match) throw new HmpArgumentError('invalid size');
  const unit = SIZE_UNITS[(match[2] || 'm').toLowerCase()];
  const bytes = Number(match[1]) * Number(unit);
  if (!Number.isSafeInteger(Math.round(bytes))) throw new HmpArgumentError('invalid size');
  return Math.round(bytes);
}

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Parse `text` (the command line after the command name) against `specs`. */
export function parseHmpArguments(command: string, specs: readonly HmpArgSpec[], text: string): HmpArgs {
  const scanner = new Scanner(text);
  const values = new Map<string, HmpArgValue>();
  for (let i = 0; i < specs.length; i++) {
    const spec = specs[i];
    if (spec.type === 'flag') {
      // A run of flag specs accepts its flags in any order, like `migrate -d -r uri`.
      let j = i;
      while (j < specs.length && specs[j].type === 'flag') values.set(specs[j++].name, false);
      const group = specs.slice(i, j);
      for (;;) {
        const word = scanner.peekWord();
        if (!/^-[A-Za-z]$/.test(word)) break;
        const flag = group.find((s) => s.letter === word[1]);
        if (!flag) throw new HmpArgumentError(`${command}: unsupported option ${word}`);
        values.set(flag.name, true);
        scanner.word();
      }
      i = j - 1;
      continue;
    }
    if (scanner.atEnd()) {
      if (spec.optional) continue;
      throw new HmpArgumentError(missingMessage(command, spec.type));
    }
    values.set(spec.name, parseOne(command, spec, scanner));
  }
  if (!scanner.atEnd()) throw new HmpArgumentError(`${command}: extraneous characters at the end of line`);
  return new HmpArgs(values);
}

function missingMessage(command: string, type: HmpArgType): string {
  switch (type) {
    case 'F':
      return `${command}: filename expected`;
    case 'B':
      return `${command}: block device name expected`;
    case 'i':
    case 'l':
      return `${command}: integer expected`;
    case 'o':
      return `${command}: size expected`;
    case 'b':
      return "Expected 'on' or 'off'";
    default:
      return `${command}: string expected`;
  }
}

function parseOne(command: string, spec: HmpArgSpec, scanner: Scanner): HmpArgValue {
  switch (spec.type) {
    case 's':
    case 'F':
    case 'B':
      return readString(scanner);
    case 'S':
      return scanner.rest();
    case 'i': {
      const value = parseInteger(scanner.word(), command);
      if (value < INT32_MIN || value > INT32_MAX) throw new HmpArgumentError('integer is for 32-bit values');
      return Number(value);
    }
    case 'l': {
      const value = parseInteger(scanner.word(), command);
      if (value < INT64_MIN || value > INT64_MAX) throw new HmpArgumentError('integer is for 64-bit values');
      return value;
    }
    case 'o':
      return parseSize(scanner.word());
    case 'b': {
      const word = scanner.word();
      if (word === 'on') return true;
      if (word === 'off') return false;
      throw new HmpArgumentError("Expected 'on' or 'off'");
    }
    case 'flag':
      throw new HmpArgSpecError('flags are handled by the caller');
  }
}
