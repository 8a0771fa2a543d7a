import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HmpLineReader, MAX_COMMAND_LINE_BYTES } from '../../../src/monitor/hmp/line-reader.js';

function lines(...chunks: Array<string | number[]>): string[] {
  const reader = new HmpLineReader();
  return chunks.flatMap((c) => reader.feed(typeof c === 'string' ? Buffer.from(c) : Uint8Array.from(c)).map((l) => l.line));
}

test('\\n, \\r\\n and \\r each end one line', () => {
  assert.deepEqual(lines('a\nb\r\nc\rd\n'), ['a', 'b', 'c', 'd']);
  assert.deepEqual(lines('a\r', '\nb\n'), ['a', 'b'], 'CR LF split across chunks is one line end');
  assert.deepEqual(lines('\n\n'), ['', '']);
});

test('telnet negotiation and terminal escape sequences are dropped', () => {
  // IAC DO ECHO, IAC WILL SGA, IAC SB NAWS ... IAC SE, then "info" with an arrow key inside.
  assert.deepEqual(
    lines([0xff, 0xfd, 0x01, 0xff, 0xfb, 0x03, 0xff, 0xfa, 0x1f, 0, 80, 0, 24, 0xff, 0xf0], 'in\x1b[Afo\x1bOB\r\0'),
    ['info'],
  );
});

test('backspace and DEL erase whole characters, including multi-byte ones', () => {
  assert.deepEqual(lines('stopx\x7f\n'), ['stop']);
  assert.deepEqual(lines('ab\x08\x08c\n'), ['c']);
  assert.deepEqual(lines('é\x7fe\n'), ['e']);
});

test('a line beyond the command buffer is reported, not cut short', () => {
  const reader = new HmpLineReader();
  const [read] = reader.feed(Buffer.from('x'.repeat(MAX_COMMAND_LINE_BYTES + 10) + '\n'));
  assert.equal(read.overlong, true);
  const [next] = reader.feed(Buffer.from('info status\n'));
  assert.deepEqual(next, { line: 'info status', overlong: false });
});

test('property: printable lines survive LF or CR LF ends and any chunking', () => {
  const line = fc.stringMatching(/^[ -~]{0,40}$/);
  fc.assert(
    fc.property(
      fc.array(fc.tuple(line, fc.constantFrom('\n', '\r\n')), { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      (entries, cuts) => {
        const bytes = Buffer.from(entries.map(([l, end]) => l + end).join(''));
        const reader = new HmpLineReader();
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const got: string[] = [];
        let prev = 0;
        for (const p of [...points, bytes.length]) {
          got.push(...reader.feed(bytes.subarray(prev, p)).map((r) => r.line));
          prev = p;
        }
        assert.deepEqual(got, entries.map(([l]) => l));
      },
    ),
  );
});
