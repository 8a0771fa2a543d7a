/**
 * QEMU's option-string syntax (`key=value,key=value`), as QEMU's QemuOpts
 * parser (opts_do_parse) reads it:
 * - `,,` inside a value stands for one literal comma;
 * - a first item without `=` is the value of the option's implied key when it
 *   has one (`-netdev tap,id=n0` is `type=tap,id=n0`);
 * - any other item without `=` is a flag: `server` means `server=on` and
 *   `nowait` means `wait=off` (QEMU strips a leading `no` the same way);
 * - a trailing comma is ignored; the last occurrence of a key wins.
 * Values stay strings; `boolValue` reads on/off/yes/no/true/false.
 */
import { UsageError } from './usage-error.js';

export interface KeyValueEntry {
  key: string;
  value: string;
}

export interface ParseKeyValueOptions {
  /** The key a bare first item is the value of (QEMU's implied_opt_name). */
  impliedKey?: string;
  /** The flag being parsed, for error messages (e.g. '-chardev'). */
  flag?: string;
}

/** An ordered list of key=value pairs; lookups follow QEMU's "last one wins". */
export class KeyValueList {
  constructor(readonly entries: readonly KeyValueEntry[]) {}

  has(key: string): boolean {
    return this.entries.some((e) => e.key === key);
  }

  get(key: string): string | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      if (this.entries[i].key === key) return this.entries[i].value;
    }
    return undefined;
  }

  keys(): string[] {
    return [...new Set(this.entries.map((e) => e.key))];
  }

  /** Plain object view (last occurrence of each key). */
  toRecord(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const e of this.entries) out[e.key] = e.value;
    return out;
  }
}

export function parseKeyValue(text: string, options: ParseKeyValueOptions = {}): KeyValueList {
  const where = options.flag ? `${options.flag}: ` : '';
  const entries: KeyValueEntry[] = [];
  let pos = 0;
  while (pos < text.length) {
    const eq = text.indexOf('=', pos);
    const comma = text.indexOf(',', pos);
    const bare = eq < 0 || (comma >= 0 && comma < eq);
    if (bare && pos === 0 && options.impliedKey !== undefined) {
      const { value, end } = readValue(text, pos);
      entries.push({ key: options.impliedKey, value });
      pos = end;
    } else if (bare) {
      const end = comma < 0 ? text.length : comma;
      const name = text.slice(pos, end);
      if (name === '') {
        throw new UsageError(`${where}empty item in '${text}' (remove the extra comma)`);
      }
      // QEMU reads a bare "noX" as X=off; "nowait" -> wait=off, "nodelay" -> delay=off.
      if (name.startsWith('no') && name.length > 2) entries.push({ key: name.slice(2), value: 'off' });
      else entries.push({ key: name, value: 'on' });
      pos = end;
    } else {
      const key = text.slice(pos, eq);
      if (key === '') {
        throw new UsageError(`${where}missing name before '=' in '${text}' (write key=value)`);
      }
      const { value, end } = readValue(text, eq + 1);
      entries.push({ key, value });
      pos = end;
    }
    // pos is at the separating comma or at the end; step over the comma.
    if (pos < text.length) pos++;
  }
  return new KeyValueList(entries);
}

/** Reads a value up to the first single comma; `,,` is a literal comma. */
function readValue(text: string, start: number): { value: string; end: number } {
  let value = '';
  let pos = start;
  while (pos < text.length) {
    const ch = text[pos];
    if (ch === ',') {
      if (text[pos + 1] === ',') {
        value += ',';
        pos += 2;
        continue;
      }
      break;
    }
    value += ch;
    pos++;
  }
  return { value, end: pos };
}

/** The inverse of parseKeyValue for explicit pairs: `key=value` joined by commas, commas doubled. */
export function formatKeyValue(entries: readonly KeyValueEntry[]): string {
  return entries.map((e) => `${e.key}=${e.value.replaceAll(',', ',,')}`).join(',');
}

const TRUE_WORDS = new Set(['on', 'yes', 'true']);
const FALSE_WORDS = new Set(['off', 'no', 'false']);

/** QEMU's boolean spellings; anything else is a usage error naming the key. */
export function boolValue(value: string, key: string, flag: string): boolean {
  // Case-sensitive, as QEMU is.
  if (TRUE_WORDS.has(value)) return true;
  if (FALSE_WORDS.has(value)) return false;
  throw new UsageError(`${flag}: ${key}='${value}' is not on or off (use ${key}=on or ${key}=off)`);
}

/** Reads an optional boolean key from a list, with a default. */
export function boolOption(list: KeyValueList, key: string, flag: string, fallback: boolean): boolean {
  const value = list.get(key);
  return value === undefined ? fallback : boolValue(value, key, flag);
}

/** Rejects keys the option does not know, naming the first one and the ones it does. */
export function rejectUnknownKeys(list: KeyValueList, known: readonly string[], flag: string, what: string): void {
  for (const key of list.keys()) {
    if (!known.includes(key)) {
      throw new UsageError(`${flag}: unknown option '${key}' for ${what} (known: ${known.join(', ')})`);
    }
  }
}
