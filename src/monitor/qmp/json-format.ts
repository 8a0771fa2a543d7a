/**
 * JSON as QEMU writes it (qobject/json-writer.c): `{"a": 1, "b": [1, 2]}`
 * with a space after ':' and ',', non-ASCII escaped as \uXXXX, and with
 * `pretty` the 4-space indented form of `-mon ...,pretty=on`. Clients parse
 * either form; matching QEMU keeps byte-comparing scripts and logs happy.
 */

function quote(text: string): string {
  return JSON.stringify(text).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function write(value: unknown, pretty: boolean, indent: string): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return quote(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'bigint':
      return value.toString();
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      return 'null';
  }
  const inner = indent + '    ';
  const open = pretty ? `\n${inner}` : '';
  const sep = pretty ? `,\n${inner}` : ', ';
  const close = pretty ? `\n${indent}` : '';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    return `[${open}${value.map((v) => write(v, pretty, inner)).join(sep)}${close}]`;
  }
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return '{}';
  return `{${open}${entries.map(([k, v]) => `${quote(k)}: ${write(v, pretty, inner)}`).join(sep)}${close}}`;
}

export function formatQmpJson(value: unknown, pretty = false): string {
  return write(value, pretty, '');
}
