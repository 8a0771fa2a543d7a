import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Uart16550 } from '../../../src/devices/serial/uart16550.js';
import { SerialStateError } from '../../../src/devices/serial/state.js';

const RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

function harness(rxCapacity?: number) {
  const out: number[] = [];
  const irqCalls: boolean[] = [];
  const uart = new Uart16550({ rxCapacity, onOutput: (b) => out.push(...b), setIrq: (l) => irqCalls.push(l) });
  return { uart, out, irqCalls, r: (o: number) => uart.read(o), w: (o: number, v: number) => uart.write(o, v) };
}

test('reset state: no interrupt, transmitter empty, modem lines up, OUT2 set', () => {
  const { r, uart } = harness();
  assert.equal(r(IIR), 0x01);
  assert.equal(r(LSR), 0x60);
  assert.equal(r(MSR), 0xb0);
  assert.equal(r(MCR), 0x08);
  assert.equal(uart.irqLevel, false);
});

test('Linux 8250 autoconfig: IER, scratch and loopback tests pass', () => {
  const { r, w } = harness();
  // IER test
  const saved = r(IER);
  w(IER, 0);
  assert.equal(r(IER) & 0x0f, 0);
  w(IER, 0x0f);
  assert.equal(r(IER) & 0x0f, 0x0f);
  w(IER, 0xff);
  assert.equal(r(IER), 0x0f, 'only the four defined IER bits stick');
  w(IER, saved);
  // scratch register
  for (const v of [0xa5, 0x5a, 0x00, 0xff]) {
    w(SCR, v);
    assert.equal(r(SCR), v);
  }
  // loopback: MCR = LOOP | OUT2 | RTS -> MSR high nibble DCD|CTS
  const mcr = r(MCR);
  w(MCR, 0x10 | 0x0a);
  assert.equal(r(MSR) & 0xf0, 0x90);
  w(MCR, mcr);
});

test('Linux 8250 autoconfig: FIFO test identifies a 16550A (not EFR parts, not a 16750)', () => {
  const { r, w } = harness();
  w(LCR, 0xbf);
  w(2, 0); // EFR write in conf mode B: a 16550A has no EFR
  w(LCR, 0);
  w(FCR, 0x01);
  assert.equal(r(IIR) >> 6, 3, 'FIFO bits report a 16550A');
  w(LCR, 0x80);
  assert.notEqual(r(2), 0, 'reading "EFR" with DLAB set returns IIR, so no ST16C650V1');
  w(LCR, 0xbf);
  assert.notEqual(r(2), 0, 'no EFR in conf mode B either');
  w(LCR, 0);
  w(FCR, 0x01 | 0x20);
  const status1 = r(IIR) >> 5;
  w(FCR, 0x01);
  w(LCR, 0x80);
  w(FCR, 0x01 | 0x20);
  const status2 = r(IIR) >> 5;
  w(LCR, 0);
  assert.ok(!(status1 === 6 && status2 === 7), 'not a 16750');
  w(FCR, 0);
  assert.equal(r(IIR), 0x01, 'FIFO bits clear when FIFOs are disabled');
});

test('DLAB selects the divisor latch at offsets 0 and 1', () => {
  const { r, w, out } = harness();
  w(IER, 0x05);
  w(LCR, 0x83);
  w(DLL, 0x0c);
  w(DLM, 0x01);
  assert.equal(r(DLL), 0x0c);
  assert.equal(r(DLM), 0x01);
  assert.deepEqual(out, [], 'DLL writes are not output');
  w(LCR, 0x03);
  assert.equal(r(IER), 0x05, 'IER untouched by DLM writes');
  assert.equal(r(LCR), 0x03);
  w(THR, 0x41);
  assert.deepEqual(out, [0x41]);
  w(LCR, 0x83);
  assert.equal(r(DLL), 0x0c, 'THR write did not touch DLL');
});

test('THR-empty interrupt: raised on enabling THRI, cleared by IIR read, re-raised after each byte', () => {
  const { r, w, uart, irqCalls, out } = harness();
  w(FCR, 0x01);
  w(IER, 0x02);
  assert.equal(uart.irqLevel, true, 'transmitter is empty: interrupt at once (Linux UART_BUG_TXEN test)');
  assert.equal(r(LSR) & 0x40, 0x40);
  assert.equal(r(IIR), 0xc2);
  assert.equal(uart.irqLevel, false, 'IIR read acknowledged THRE');
  assert.equal(r(IIR), 0xc1);
  w(THR, 0x68);
  assert.deepEqual(out, [0x68]);
  assert.equal(uart.irqLevel, true, 'byte sent, THR empty again');
  assert.equal(r(IIR), 0xc2);
  // Linux UART_BUG_THRE test: disable, re-enable THRI -> THRE must be re-asserted
  w(IER, 0);
  w(IER, 0x02);
  assert.equal(r(IIR) & 0x01, 0, 'THRE re-asserted');
  w(IER, 0);
  assert.equal(uart.irqLevel, false);
  assert.deepEqual(irqCalls, [true, false, true, false, true, false], 'setIrq called only on level changes');
});

test('receive: data-available interrupt, LSR.DR, bytes in order, priority over THRE', () => {
  const { r, w, uart } = harness();
  w(FCR, 0x01); // enabling the FIFO resets it, so input comes after
  assert.equal(uart.enqueueInput(new TextEncoder().encode('hi')), 2);
  assert.equal(uart.irqLevel, false, 'RDI not enabled yet');
  assert.equal(r(LSR) & 0x01, 0x01);
  w(IER, 0x03);
  assert.equal(uart.irqLevel, true);
  assert.equal(r(IIR), 0xc4, 'received data outranks THRE');
  assert.equal(r(RBR), 0x68);
  assert.equal(r(IIR), 0xc4);
  assert.equal(r(RBR), 0x69);
  assert.equal(r(LSR) & 0x01, 0);
  assert.equal(r(IIR), 0xc2, 'then THRE');
  assert.equal(r(IIR), 0xc1);
  assert.equal(uart.irqLevel, false);
  assert.equal(r(RBR), 0, 'empty receiver reads 0');
});

test('loopback: transmitted bytes come back to the receiver, not to the host', () => {
  const { r, w, out } = harness();
  w(MCR, 0x10);
  w(THR, 0x55);
  w(THR, 0xaa);
  assert.deepEqual(out, []);
  assert.equal(r(RBR), 0x55);
  assert.equal(r(RBR), 0xaa);
});

test('overrun: a full receiver flags OE and a line-status interrupt, cleared by reading LSR', () => {
  const { r, w, uart } = harness(4);
  assert.equal(uart.enqueueInput(Uint8Array.of(1, 2, 3, 4, 5, 6)), 4, 'host input beyond capacity is refused');
  w(IER, 0x04);
  w(MCR, 0x10);
  w(THR, 9);
  assert.equal(uart.irqLevel, true);
  assert.equal(r(IIR), 0x06);
  assert.equal(r(LSR) & 0x03, 0x03);
  assert.equal(r(LSR) & 0x02, 0, 'OE clears on read');
  assert.equal(uart.irqLevel, false);
});

test('FCR receive clear drops what the 16-byte hardware FIFO holds, not the host backlog behind it', () => {
  const { r, w, uart } = harness();
  uart.enqueueInput(Uint8Array.from({ length: 20 }, (_, i) => i));
  w(FCR, 0x01 | 0x02);
  assert.equal(uart.pendingInput, 4);
  assert.equal(r(RBR), 16);
  uart.enqueueInput(Uint8Array.of(1, 2));
  w(FCR, 0x00); // toggling FIFO enable resets the FIFO too
  assert.equal(uart.pendingInput, 0);
});

test('modem-status interrupt on loopback line changes, cleared by reading MSR', () => {
  const { r, w, uart } = harness();
  w(IER, 0x08);
  w(MCR, 0x10 | 0x01); // loop, DTR -> DSR stays up; CTS and DCD drop
  assert.equal(uart.irqLevel, true);
  assert.equal(r(IIR), 0x00);
  const msr = r(MSR);
  assert.equal(msr & 0xf0, 0x20);
  assert.equal(msr & 0x0f, 0x09, 'DCTS and DDCD, no DDSR');
  assert.equal(uart.irqLevel, false);
  w(MCR, 0x10 | 0x04); // OUT1 -> RI rises
  r(MSR);
  w(MCR, 0x10); // RI falls: trailing edge
  assert.equal(r(MSR) & 0x04, 0x04, 'TERI');
});

test('port interface: only the low byte of a write counts; offsets beyond 7 float', () => {
  const { uart, out } = harness();
  uart.write(0, 0x141);
  assert.deepEqual(out, [0x41]);
  uart.write(7, 0x1ab);
  assert.equal(uart.read(7), 0xab);
  assert.equal(uart.read(9), 0xff, 'outside the 8 ports');
  uart.write(9, 1);
  uart.write(5, 0); // LSR is read-only
  assert.equal(uart.read(5), 0x60);
});

type Op = { kind: 'w'; off: number; val: number } | { kind: 'r'; off: number } | { kind: 'in'; bytes: number[] };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('w' as const), off: fc.integer({ min: 0, max: 9 }), val: fc.integer({ min: 0, max: 0x1ff }) }),
  fc.record({ kind: fc.constant('r' as const), off: fc.integer({ min: 0, max: 9 }) }),
  fc.record({ kind: fc.constant('in' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 24 }) }),
);

function apply(uart: Uart16550, op: Op): number | undefined {
  if (op.kind === 'w') uart.write(op.off, op.val);
  else if (op.kind === 'r') return uart.read(op.off);
  else uart.enqueueInput(Uint8Array.from(op.bytes));
  return undefined;
}

test('property: random register traffic never throws and LSR/IIR stay consistent', () => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 120 }), (ops) => {
    let level = false;
    const uart = new Uart16550({ rxCapacity: 64, setIrq: (l) => { assert.notEqual(l, level, 'setIrq only on change'); level = l; } });
    for (const op of ops) {
      apply(uart, op);
      assert.equal(uart.irqLevel, level);
      const dlab = (uart.read(LCR) & 0x80) !== 0;
      const pending = uart.pendingInput;
      const lsr = uart.read(LSR);
      assert.equal(lsr & 0x60, 0x60, 'transmitter always empty');
      assert.equal(lsr & 0x01, pending > 0 ? 1 : 0, 'DR iff input pending');
      assert.equal(lsr & 0x9c, 0, 'no framing/parity/break errors are ever reported');
      const levelBefore = uart.irqLevel;
      const iir = uart.read(IIR);
      assert.equal((iir & 0x01) === 0, levelBefore, 'IIR reports an interrupt iff the line is high');
      assert.ok([0x01, 0x00, 0x02, 0x04, 0x06].includes(iir & 0x0f));
      if (dlab) assert.equal(uart.pendingInput, pending, 'reads with DLAB set do not consume input');
    }
  }));
});

test('property: saved state (through JSON) restores a UART that behaves identically', () => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 60 }), fc.array(opArb, { maxLength: 60 }), (before, after) => {
    const outA: number[] = [];
    const a = new Uart16550({ rxCapacity: 128, onOutput: (b) => outA.push(...b) });
    before.forEach((op) => apply(a, op));
    const state = JSON.parse(JSON.stringify(a.saveState()));
    let restoredLevel: boolean | undefined;
    const outB: number[] = [];
    const b = Uart16550.restore(state, { onOutput: (x) => outB.push(...x), setIrq: (l) => { restoredLevel = l; } });
    assert.equal(restoredLevel, a.irqLevel, 'restore announces the current line level');
    assert.deepEqual(b.saveState(), a.saveState());
    outA.length = 0;
    for (const op of after) {
      assert.equal(apply(b, op), apply(a, op));
      assert.equal(b.irqLevel, a.irqLevel);
    }
    assert.deepEqual(outB, outA);
  }));
});

test('restore rejects malformed state with a clear error', () => {
  const good = new Uart16550().saveState();
  const bad: [unknown, RegExp][] = [
    [null, /must be an object/],
    [{ ...good, version: 2 }, /version 2 is not supported/],
    [{ ...good, lcr: 256 }, /'lcr' must be a byte/],
    [{ ...good, ier: 1.5 }, /'ier' must be a byte/],
    [{ ...good, overrun: 'no' }, /'overrun' must be a boolean/],
    [{ ...good, rx: 'not base64!' }, /'rx' must be a base64 string/],
    [{ ...good, rx: Buffer.alloc(10).toString('base64'), rxCapacity: 4 }, /more than its capacity/],
    [{ ...good, rxCapacity: 0 }, /'rxCapacity'/],
  ];
  for (const [state, re] of bad) assert.throws(() => Uart16550.restore(state), (e: unknown) => e instanceof SerialStateError && re.test(e.message));
});
