/**
 * The migration session's wire format (src/migration/wire.ts): the 16-byte hello both
 * ways round, and every reply or command that is not exactly what the protocol allows
 * is refused with a MigrationProtocolError rather than half-understood.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MigrationProtocolError } from '../../src/migration/errors.js';
import {
  decodeHello, encodeHello, encodeLine, parseCommand, parseReply,
  FLAG_AUTH, FLAG_DISK_COPY, FLAG_FT, FLAG_VERIFY, HELLO_MAGIC, HELLO_SIZE, PROTOCOL_VERSION,
} from '../../src/migration/wire.js';

const protocolError = (re: RegExp) => (e: unknown) => e instanceof MigrationProtocolError && re.test(e.message);

/** A hello as another program might send it. */
function handMadeHello(magic: string, version: number, flags: number): Buffer {
  const b = Buffer.alloc(HELLO_SIZE);
  b.write(magic, 0, 'latin1');
  b.writeUInt32LE(version, 8);
  b.writeUInt32LE(flags, 12);
  return b;
}

test('hello round trip keeps the verify and ft flags and the layout of docs/PROTOCOL.md', () => {
  for (const verify of [false, true]) {
    for (const ft of [false, true]) {
      const b = encodeHello({ verify, ft });
      assert.equal(b.length, HELLO_SIZE);
      assert.equal(b.toString('latin1', 0, 8), 'CUJUMIG\0');
      assert.equal(b.readUInt32LE(8), PROTOCOL_VERSION);
      assert.equal(b.readUInt32LE(12), (verify ? FLAG_VERIFY : 0) | (ft ? FLAG_FT : 0));
      assert.deepEqual(decodeHello(b), { version: PROTOCOL_VERSION, verify, ft, diskCopy: false, auth: false });
      // The disk-copy flag exists only with ft.
      const withDisks = encodeHello({ verify, ft, diskCopy: true });
      assert.equal(withDisks.readUInt32LE(12), (verify ? FLAG_VERIFY : 0) | (ft ? FLAG_FT | FLAG_DISK_COPY : 0));
      assert.deepEqual(decodeHello(withDisks), { version: PROTOCOL_VERSION, verify, ft, diskCopy: ft, auth: false });
      // -ft-key: the auth flag goes with any migration.
      const withAuth = encodeHello({ verify, ft, auth: true });
      assert.equal(withAuth.readUInt32LE(12), (verify ? FLAG_VERIFY : 0) | (ft ? FLAG_FT : 0) | FLAG_AUTH);
      assert.deepEqual(decodeHello(withAuth), { version: PROTOCOL_VERSION, verify, ft, diskCopy: false, auth: true });
    }
  }
  // A view into a larger buffer (how a socket read may deliver it) decodes the same.
  const big = Buffer.concat([Buffer.from('xx'), encodeHello({ verify: true }), Buffer.from('yy')]);
  assert.deepEqual(decodeHello(big.subarray(2, 2 + HELLO_SIZE)), { version: PROTOCOL_VERSION, verify: true, ft: false, diskCopy: false, auth: false });
});

test('a hello with the wrong magic or length is not a cuju migration', () => {
  assert.throws(() => decodeHello(handMadeHello('CUJUSNAP', PROTOCOL_VERSION, 0)), protocolError(/not a cuju migration \(bad hello\)/));
  assert.throws(() => decodeHello(Buffer.from('GET / HTTP/1.1\r\n')), protocolError(/bad hello/));
  assert.throws(() => decodeHello(encodeHello({ verify: false }).subarray(0, 15)), protocolError(/bad hello/));
  assert.throws(() => decodeHello(Buffer.concat([encodeHello({ verify: false }), Buffer.of(0)])), protocolError(/bad hello/));
});

test('another protocol version is refused with both versions named and the fix', () => {
  for (const other of [0, PROTOCOL_VERSION + 1, 0xffffffff]) {
    assert.throws(() => decodeHello(handMadeHello(HELLO_MAGIC, other, 0)), (e: unknown) => {
      assert.ok(e instanceof MigrationProtocolError);
      assert.match(e.message, new RegExp(`version ${other}\\b`));
      assert.match(e.message, new RegExp(`speaks ${PROTOCOL_VERSION}\\b`));
      assert.match(e.message, /same cuju version on both hosts/);
      return true;
    });
  }
});

test('unknown hello flags are refused, naming them; the disk-copy flag only comes with ft', () => {
  assert.throws(() => decodeHello(handMadeHello(HELLO_MAGIC, PROTOCOL_VERSION, 16)), protocolError(/unknown migration options \(flags 0x10\)/));
  assert.throws(() => decodeHello(handMadeHello(HELLO_MAGIC, PROTOCOL_VERSION, 0x80000001)), protocolError(/flags 0x80000001/));
  assert.throws(() => decodeHello(handMadeHello(HELLO_MAGIC, PROTOCOL_VERSION, FLAG_DISK_COPY)), protocolError(/disk copy outside a fault-tolerance migration/));
  fc.assert(fc.property(fc.integer({ min: 16, max: 0xffffffff }), (flags) => {
    assert.throws(() => decodeHello(handMadeHello(HELLO_MAGIC, PROTOCOL_VERSION, flags)), MigrationProtocolError);
  }));
});

test('replies: the three known ones round-trip through encodeLine', () => {
  const hash = 'ab'.repeat(32);
  const replies = [
    { type: 'loaded' }, { type: 'loaded', ramHash: hash, deviceHash: hash.toUpperCase().toLowerCase() },
    { type: 'started' }, { type: 'error', message: 'snapshot RAM size mismatch' },
  ] as const;
  for (const r of replies) {
    const line = encodeLine(r);
    assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'), 'one line');
    // Compared as JSON: absent optional fields may come back as undefined properties.
    assert.equal(encodeLine(parseReply(line.slice(0, -1))), line);
  }
  // A long error message is cut to 1000 characters, not refused.
  assert.equal((parseReply(JSON.stringify({ type: 'error', message: 'x'.repeat(5000) })) as { message: string }).message.length, 1000);
});

test('replies: malformed, mistyped or unknown ones are refused', () => {
  for (const line of ['', 'loaded', '{"type":"loaded"', '[]', '[{"type":"started"}]', 'null', '42', '"started"']) {
    assert.throws(() => parseReply(line), protocolError(/malformed message/), line);
  }
  const notUnderstood = [
    {}, { type: 'LOADED' }, { type: 'go' }, { type: 'abort', reason: 'x' }, { type: 'error' }, { type: 'error', message: 5 },
    { type: 'loaded', ramHash: 'abc' }, { type: 'loaded', ramHash: 'AB'.repeat(32) }, { type: 'loaded', deviceHash: 'a'.repeat(65) },
    { type: 'loaded', ramHash: 12 }, { type: 'loaded', ramHash: null },
  ];
  for (const o of notUnderstood) {
    assert.throws(() => parseReply(JSON.stringify(o)), protocolError(/the destination sent a message this cuju does not understand/), JSON.stringify(o));
  }
});

test('commands: go and abort are understood, anything else is refused', () => {
  assert.deepEqual(parseCommand(encodeLine({ type: 'go' }).trim()), { type: 'go' });
  assert.deepEqual(parseCommand(encodeLine({ type: 'abort', reason: 'verify mismatch' }).trim()), { type: 'abort', reason: 'verify mismatch' });
  assert.equal((parseCommand(JSON.stringify({ type: 'abort', reason: 'r'.repeat(2000) })) as { reason: string }).reason.length, 1000);
  assert.throws(() => parseCommand('go'), protocolError(/malformed/));
  for (const o of [{ type: 'abort' }, { type: 'loaded' }, { type: 'started' }, { type: 'Go' }, { go: true }]) {
    assert.throws(() => parseCommand(JSON.stringify(o)), protocolError(/the source sent a message this cuju does not understand/), JSON.stringify(o));
  }
});

test('no random line is ever half-understood: it parses to a known message or throws MigrationProtocolError', () => {
  fc.assert(fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (line) => {
    for (const parse of [parseReply, parseCommand]) {
      try {
        const m = parse(line) as { type: string };
        assert.ok(['loaded', 'started', 'error', 'go', 'abort'].includes(m.type));
      } catch (e) {
        assert.ok(e instanceof MigrationProtocolError, String(e));
      }
    }
  }));
});
