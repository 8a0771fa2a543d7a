/**
 * Turns the bytes a text-monitor client sends into command lines, the way
 * QEMU's readline sees them: \n, \r and \r\n end a line; telnet negotiation
 * (IAC ...) and terminal escape sequences (arrow keys: ESC [ A) are dropped;
 * backspace/DEL erase; other control bytes are ignored. A line longer than
 * QEMU's 4095-byte command buffer is not cut short and run (that could run a
 * different command than typed): it is reported as overlong instead.
 */

export const MAX_COMMAND_LINE_BYTES = 4095;

export type ReadLine = { line: string; overlong: false } | { line: string; overlong: true };

const IAC = 0xff;
const SB = 0xfa;
const SE = 0xf0;
const ESC = 0x1b;
const CR = 0x0d;
const LF = 0x0a;
const TAB = 0x09;
const BS = 0x08;
const DEL = 0x7f;

type State =
  | 'text'
  | 'iac' // after IAC
  | 'iac-option' // after IAC WILL/WONT/DO/DONT: one option byte follows
  | 'subneg' // inside IAC SB ... IAC SE
  | 'subneg-iac'
  | 'esc' // after ESC
  | 'csi' // after ESC [ : parameters until a final byte 0x40-0x7e
  | 'ss3'; // after ESC O : one byte follows

export class HmpLineReader {
  private state: State = 'text';
  private bytes: number[] = [];
  private overlong = false;
  /** The last line ended with CR: a following LF (or telnet's NUL) belongs to it. */
  private afterCr = false;

  constructor(private readonly maxBytes = MAX_COMMAND_LINE_BYTES) {}

  /** Feeds bytes; returns the lines they completed. */
  feed(chunk: Uint8Array): ReadLine[] {
    const lines: ReadLine[] = [];
    for (const byte of chunk) {
      const completed = this.step(byte);
      if (completed) lines.push(completed);
    }
    return lines;
  }

  private step(byte: number): ReadLine | undefined {
    const afterCr = this.afterCr;
    this.afterCr = false;
    switch (this.state) {
      case 'iac':
        if (byte === IAC) {
          this.state = 'text'; // IAC IAC is a literal 0xff: not a character a command can contain
        } else if (byte >= 0xfb && byte <= 0xfe) {
          this.state = 'iac-option';
        } else if (byte === SB) {
          this.state = 'subneg';
        } else {
          this.state = 'text';
        }
        return undefined;
      case 'iac-option':
        this.state = 'text';
        return undefined;
      case 'subneg':
        if (byte === IAC) this.state = 'subneg-iac';
        return undefined;
      case 'subneg-iac':
        this.state = byte === SE ? 'text' : 'subneg';
        return undefined;
      case 'esc':
        this.state = byte === 0x5b ? 'csi' : byte === 0x4f ? 'ss3' : 'text';
        return undefined;
      case 'csi':
        if (byte >= 0x40 && byte <= 0x7e) this.state = 'text';
        return undefined;
      case 'ss3':
        this.state = 'text';
        return undefined;
      case 'text':
        break;
    }
    if (byte === IAC) {
      this.state = 'iac';
    } else if (byte === ESC) {
      this.state = 'esc';
    } else if (byte === CR) {
      this.afterCr = true;
      return this.endLine();
    } else if (byte === LF || byte === 0) {
      if (!afterCr && byte === LF) return this.endLine();
      // LF or NUL right after CR: the second half of a CR LF / CR NUL line end.
    } else if (byte === BS || byte === DEL) {
      this.erase();
    } else if (byte === TAB) {
      this.append(0x20);
    } else if (byte >= 0x20) {
      this.append(byte);
    }
    return undefined;
  }

  private append(byte: number): void {
    if (this.bytes.length >= this.maxBytes) {
      this.overlong = true;
      return;
    }
    this.bytes.push(byte);
  }

  /** Erase one character, which in UTF-8 may be several bytes (continuation bytes are 10xxxxxx). */
  private erase(): void {
    while (this.bytes.length > 0) {
      const removed = this.bytes.pop()!;
      if ((removed & 0xc0) !== 0x80) break;
    }
  }

  private endLine(): ReadLine {
    const line = Buffer.from(this.bytes).toString('utf8');
    const overlong = this.overlong;
    this.bytes = [];
    this.overlong = false;
    return overlong ? { line, overlong: true } : { line, overlong: false };
  }
}
