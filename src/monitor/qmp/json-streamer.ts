/**
 * Splits the QMP input stream into JSON values the way QEMU's json-streamer
 * does: by counting braces and brackets (outside strings), not by lines, so a
 * request may span lines and one line may hold several requests.
 *
 * Errors leave the stream usable: a value that completes but does not parse
 * yields an error and the next value parses normally. A control character
 * outside a string is a lexical error that throws away the partial value
 * (QEMU's documented way for a client to resynchronise). An incomplete value
 * beyond `maxPending` characters, or nested deeper than `maxDepth`, is
 * refused: the caller disconnects that client instead of buffering without end.
 */

export type StreamItem =
  | { kind: 'value'; value: unknown }
  | { kind: 'error'; desc: string }
  | { kind: 'overflow'; desc: string };

export const DEFAULT_MAX_PENDING = 1 << 20;
/** QEMU's MAX_NESTING. */
export const DEFAULT_MAX_DEPTH = 1024;

export class QmpJsonStreamer {
  private parts: string[] = [];
  private pendingLength = 0;
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** Collecting a top-level scalar (number, keyword, string): complete at the next delimiter. */
  private inScalar = false;
  private overflowed = false;

  constructor(
    private readonly maxPending = DEFAULT_MAX_PENDING,
    private readonly maxDepth = DEFAULT_MAX_DEPTH,
  ) {}

  feed(text: string): StreamItem[] {
    const items: StreamItem[] = [];
    if (this.overflowed) return items;
    let start = 0; // start of the slice of `text` that belongs to the current value
    const flushSlice = (end: number): void => {
      if (end > start) {
        this.parts.push(text.slice(start, end));
        this.pendingLength += end - start;
      }
      start = end;
    };
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === '\\') this.escaped = true;
        else if (c === '"') {
          this.inString = false;
          if (this.depth === 0) {
            flushSlice(i + 1);
            this.inScalar = false;
            items.push(this.complete());
          }
        }
        continue;
      }
      if (isControl(c)) {
        items.push({ kind: 'error', desc: `JSON parse error, invalid character 0x${c.charCodeAt(0).toString(16)}` });
        this.reset();
        start = i + 1;
        continue;
      }
      if (this.inScalar && (isSpace(c) || '{}[]"'.includes(c))) {
        flushSlice(i);
        this.inScalar = false;
        items.push(this.complete());
      }
      if (this.depth === 0 && !this.inScalar) {
        if (isSpace(c)) {
          start = i + 1;
          continue;
        }
        start = i;
        if (c === '}' || c === ']') {
          items.push({ kind: 'error', desc: `JSON parse error, unexpected '${c}'` });
          start = i + 1;
          continue;
        }
        if (c === '{' || c === '[') this.depth = 1;
        else if (c === '"') this.inString = true;
        else this.inScalar = true;
        continue;
      }
      if (this.depth > 0) {
        if (c === '"') this.inString = true;
        else if (c === '{' || c === '[') {
          if (++this.depth > this.maxDepth) {
            items.push({ kind: 'error', desc: 'JSON parse error, nesting too deep' });
            this.reset();
            start = i + 1;
          }
        } else if (c === '}' || c === ']') {
          if (--this.depth === 0) {
            flushSlice(i + 1);
            items.push(this.complete());
          }
        }
      }
    }
    if (this.depth > 0 || this.inScalar || this.inString) flushSlice(text.length);
    if (this.pendingLength > this.maxPending) {
      this.overflowed = true;
      this.reset();
      items.push({
        kind: 'overflow',
        desc: `JSON parse error, input exceeds ${this.maxPending} bytes without a complete request`,
      });
    }
    return items;
  }

  private complete(): StreamItem {
    const text = this.parts.join('');
    this.reset();
    try {
      return { kind: 'value', value: JSON.parse(text) };
    } catch (err) {
      return { kind: 'error', desc: `JSON parse error, ${(err as Error).message}` };
    }
  }

  private reset(): void {
    this.parts = [];
    this.pendingLength = 0;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.inScalar = false;
  }
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r';
}

/** Control characters other than the JSON whitespace ones. */
function isControl(c: string): boolean {
  const code = c.charCodeAt(0);
  return (code < 0x20 && !isSpace(c)) || code === 0x7f;
}
