/**
 * 16550A UART, as the guest's 8250 driver sees it at I/O ports base+0..7 (COM1: 0x3f8, IRQ 4).
 * Transmission is instant: a byte written to THR goes straight to `onOutput` and the
 * transmitter is empty again, so LSR always reports THRE|TEMT. Received bytes wait in a
 * buffer larger than the real 16-byte FIFO (see RxBuffer). The interrupt output is a level:
 * `setIrq(true)` while an enabled interrupt is pending, `setIrq(false)` when none is; it is
 * called only when the level changes.
 * Modelled on the PC16550D data sheet and on what Linux's 8250 driver probes
 * (autoconfig: scratch, IER, loopback MSR and FIFO tests; startup: THRE re-assertion).
 */
import {
  DEFAULT_DIVISOR, FCR_CLEAR_RCVR, FCR_ENABLE_FIFO, FCR_TRIGGER_MASK, HW_FIFO_SIZE, IER_MASK, IER_MSI, IER_RDI,
  IER_RLSI, IER_THRI, IIR_FIFO_ENABLED, IIR_MSI, IIR_NO_INT, IIR_RDI, IIR_RLSI, IIR_THRI, LCR_DLAB, LSR_DR, LSR_OE,
  LSR_TEMT, LSR_THRE, MCR_DTR, MCR_LOOP, MCR_MASK, MCR_OUT1, MCR_OUT2, MCR_RTS, MSR_CTS, MSR_DCD, MSR_DCTS, MSR_DDCD,
  MSR_DDSR, MSR_DELTA_MASK, MSR_DSR, MSR_RI, MSR_TERI, REG_DATA, REG_IER, REG_IIR_FCR, REG_LCR, REG_LSR, REG_MCR,
  REG_MSR, REG_SCR,
} from './registers.js';
import { RxBuffer } from './rx-buffer.js';
import { SERIAL_STATE_VERSION, validateSerialState, type SerialState } from './state.js';

export interface SerialCallbacks {
  /** Interrupt line level (the VMM maps it to KVM_IRQ_LINE on ISA IRQ 4). */
  setIrq?: (level: boolean) => void;
  /** Bytes the guest transmitted (one call per THR write; the caller may batch further). */
  onOutput?: (bytes: Uint8Array) => void;
}

export interface Uart16550Options extends SerialCallbacks {
  /** Bytes of received input kept for the guest; default 64 KiB. */
  rxCapacity?: number;
}

export const DEFAULT_RX_CAPACITY = 64 * 1024;

/** With no modem attached the lines read as "carrier, data set ready, clear to send". */
const MSR_IDLE_LINES = MSR_DCD | MSR_DSR | MSR_CTS;

export class Uart16550 {
  private ier = 0;
  private lcr = 0;
  private mcr = MCR_OUT2;
  private msr = MSR_IDLE_LINES;
  private scr = 0;
  private dll = DEFAULT_DIVISOR & 0xff;
  private dlm = DEFAULT_DIVISOR >> 8;
  private fcr = 0;
  private overrun = false;
  private thrEmptyPending = false;
  private irqLine = false;
  private readonly rx: RxBuffer;
  private readonly setIrq: (level: boolean) => void;
  private readonly onOutput: (bytes: Uint8Array) => void;

  constructor(opts: Uart16550Options = {}) {
    this.rx = new RxBuffer(opts.rxCapacity ?? DEFAULT_RX_CAPACITY);
    this.setIrq = opts.setIrq ?? (() => {});
    this.onOutput = opts.onOutput ?? (() => {});
  }

  /** Current level of the interrupt output. */
  get irqLevel(): boolean {
    return this.irqLine;
  }

  /** Received bytes the guest has not read yet. */
  get pendingInput(): number {
    return this.rx.length;
  }

  /** Queues host input for the guest; returns how many bytes fit (the rest is dropped). */
  enqueueInput(bytes: Uint8Array): number {
    const n = this.rx.push(bytes);
    this.updateIrq();
    return n;
  }

  /** Port read at `offset` 0..7 from the base (other offsets read 0xff). Byte-wide registers. */
  read(offset: number): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    let value: number;
    switch (offset) {
      case REG_DATA:
        value = dlab ? this.dll : this.rx.shift() ?? 0;
        break;
      case REG_IER:
        value = dlab ? this.dlm : this.ier;
        break;
      case REG_IIR_FCR: {
        // IIR does not depend on DLAB: Linux's EFR probe relies on reading it with DLAB set.
        const id = this.pendingInterrupt();
        if (id === IIR_THRI) this.thrEmptyPending = false; // reading IIR acknowledges THRE
        value = id | (this.fcr & FCR_ENABLE_FIFO ? IIR_FIFO_ENABLED : 0);
        break;
      }
      case REG_LCR:
        value = this.lcr;
        break;
      case REG_MCR:
        value = this.mcr;
        break;
      case REG_LSR:
        value = (this.rx.length > 0 ? LSR_DR : 0) | (this.overrun ? LSR_OE : 0) | LSR_THRE | LSR_TEMT;
        this.overrun = false; // error bits clear on read
        break;
      case REG_MSR:
        value = this.msr;
        this.msr &= ~MSR_DELTA_MASK; // delta bits clear on read
        break;
      case REG_SCR:
        value = this.scr;
        break;
      default:
        return 0xff; // outside the 8 ports: floating bus
    }
    this.updateIrq();
    return value;
  }

  /** Port write at `offset` 0..7 from the base; only the low 8 bits of `value` count. */
  write(offset: number, value: number): void {
    const v = value & 0xff;
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case REG_DATA:
        if (dlab) this.dll = v;
        else this.transmit(v);
        break;
      case REG_IER:
        if (dlab) {
          this.dlm = v;
        } else {
          const enablingThri = (this.ier & IER_THRI) === 0 && (v & IER_THRI) !== 0;
          this.ier = v & IER_MASK;
          // The transmitter is always empty, so enabling THRI raises it at once (Linux tests for this).
          if (enablingThri) this.thrEmptyPending = true;
        }
        break;
      case REG_IIR_FCR:
        this.writeFcr(v);
        break;
      case REG_LCR:
        this.lcr = v;
        break;
      case REG_MCR:
        this.mcr = v & MCR_MASK;
        this.updateModemStatus();
        break;
      case REG_SCR:
        this.scr = v;
        break;
      default:
        return; // LSR and MSR are read-only; writes outside the 8 ports go nowhere
    }
    this.updateIrq();
  }

  private transmit(byte: number): void {
    if (this.mcr & MCR_LOOP) {
      // Loopback: the transmitter feeds the receiver and nothing leaves the chip.
      if (this.rx.push(Uint8Array.of(byte)) === 0) this.overrun = true;
    } else {
      this.onOutput(Uint8Array.of(byte));
    }
    // The byte left at once, so THR is empty again and THRE is (re)raised.
    this.thrEmptyPending = true;
  }

  private writeFcr(v: number): void {
    const enableChanged = ((this.fcr ^ v) & FCR_ENABLE_FIFO) !== 0;
    // Clearing (or toggling) the FIFO drops what the 16-byte hardware FIFO would hold; the rest of
    // the buffer stands for input still on its way, which a real line would deliver afterwards.
    if (enableChanged || v & FCR_CLEAR_RCVR) {
      for (let i = 0; i < HW_FIFO_SIZE && this.rx.length > 0; i++) this.rx.shift();
      this.overrun = false;
    }
    this.fcr = v & (FCR_ENABLE_FIFO | FCR_TRIGGER_MASK);
  }

  /** MSR status bits follow MCR in loopback (RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD); deltas record changes. */
  private updateModemStatus(): void {
    let lines = MSR_IDLE_LINES;
    if (this.mcr & MCR_LOOP) {
      lines = (this.mcr & MCR_RTS ? MSR_CTS : 0) | (this.mcr & MCR_DTR ? MSR_DSR : 0)
        | (this.mcr & MCR_OUT1 ? MSR_RI : 0) | (this.mcr & MCR_OUT2 ? MSR_DCD : 0);
    }
    const old = this.msr;
    let delta = old & MSR_DELTA_MASK;
    if ((old ^ lines) & MSR_CTS) delta |= MSR_DCTS;
    if ((old ^ lines) & MSR_DSR) delta |= MSR_DDSR;
    if ((old ^ lines) & MSR_DCD) delta |= MSR_DDCD;
    if (old & MSR_RI && !(lines & MSR_RI)) delta |= MSR_TERI; // trailing edge of ring indicator
    this.msr = lines | delta;
  }

  /** Highest-priority enabled pending interrupt: line status > received data > THR empty > modem status. */
  private pendingInterrupt(): number {
    if (this.ier & IER_RLSI && this.overrun) return IIR_RLSI;
    if (this.ier & IER_RDI && this.rx.length > 0) return IIR_RDI;
    if (this.ier & IER_THRI && this.thrEmptyPending) return IIR_THRI;
    if (this.ier & IER_MSI && this.msr & MSR_DELTA_MASK) return IIR_MSI;
    return IIR_NO_INT;
  }

  private updateIrq(): void {
    const level = this.pendingInterrupt() !== IIR_NO_INT;
    if (level === this.irqLine) return;
    this.irqLine = level;
    this.setIrq(level);
  }

  saveState(): SerialState {
    return {
      version: SERIAL_STATE_VERSION,
      ier: this.ier, lcr: this.lcr, mcr: this.mcr, msr: this.msr, scr: this.scr,
      dll: this.dll, dlm: this.dlm, fcr: this.fcr,
      overrun: this.overrun, thrEmptyPending: this.thrEmptyPending,
      rx: Buffer.from(this.rx.contents()).toString('base64'),
      rxCapacity: this.rx.capacity,
    };
  }

  /**
   * A UART in the saved state. Throws SerialStateError on a malformed state. Calls
   * `setIrq` once with the restored level, so a fresh VM's interrupt line matches.
   */
  static restore(state: unknown, callbacks: SerialCallbacks = {}): Uart16550 {
    const { state: s, rxBytes } = validateSerialState(state);
    const uart = new Uart16550({ ...callbacks, rxCapacity: s.rxCapacity });
    uart.ier = s.ier & IER_MASK;
    uart.lcr = s.lcr;
    uart.mcr = s.mcr & MCR_MASK;
    uart.msr = s.msr;
    uart.scr = s.scr;
    uart.dll = s.dll;
    uart.dlm = s.dlm;
    uart.fcr = s.fcr & (FCR_ENABLE_FIFO | FCR_TRIGGER_MASK);
    uart.overrun = s.overrun;
    uart.thrEmptyPending = s.thrEmptyPending;
    uart.rx.push(rxBytes);
    uart.irqLine = uart.pendingInterrupt() !== IIR_NO_INT;
    uart.setIrq(uart.irqLine);
    return uart;
  }
}
