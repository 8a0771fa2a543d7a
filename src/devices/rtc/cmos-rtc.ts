/**
 * MC146818 CMOS real-time clock at ports 0x70 (index) / 0x71 (data). Linux reads the
 * wall-clock time from it at boot; reads answer the host's current UTC time in BCD,
 * never with "update in progress", so the guest never spins waiting for it.
 */
import type { BusDevice } from '../../vm/io-bus.js';

const REG_SECONDS = 0x00;
const REG_MINUTES = 0x02;
const REG_HOURS = 0x04;
const REG_WEEKDAY = 0x06;
const REG_DAY = 0x07;
const REG_MONTH = 0x08;
const REG_YEAR = 0x09;
const REG_A = 0x0a;
const REG_B = 0x0b;
const REG_C = 0x0c;
const REG_D = 0x0d;
const REG_CENTURY = 0x32;

const REG_B_24H = 0x02;

export class CmosRtc implements BusDevice {
  private index = 0;
  /** General-purpose CMOS bytes the guest may store (128, as on a PC). */
  private readonly nvram = new Uint8Array(128);

  constructor(private readonly now: () => Date = () => new Date()) {
    this.nvram[REG_B] = REG_B_24H; // BCD, 24-hour
    this.nvram[REG_D] = 0x80; // valid RAM and time
  }

  read(offset: number): number {
    if (offset === 0) return 0xff;
    return this.readRegister(this.index);
  }

  write(offset: number, _size: number, value: number | bigint): void {
    const v = Number(value) & 0xff;
    if (offset === 0) {
      this.index = v & 0x7f; // bit 7 is the NMI mask on a PC
    } else if (this.index === REG_A) {
      this.nvram[REG_A] = v & 0x7f; // never report update-in-progress
    } else if (this.index === REG_B) {
      this.nvram[REG_B] = v;
    } else if (this.index > REG_D) {
      this.nvram[this.index] = v;
    }
  }

  private readRegister(reg: number): number {
    const t = this.now();
    const binary = (this.nvram[REG_B] & 0x04) !== 0;
    const enc = (n: number) => (binary ? n : ((Math.floor(n / 10) << 4) | (n % 10)));
    switch (reg) {
      case REG_SECONDS: return enc(t.getUTCSeconds());
      case REG_MINUTES: return enc(t.getUTCMinutes());
      case REG_HOURS: return enc(t.getUTCHours());
      case REG_WEEKDAY: return enc(t.getUTCDay() + 1);
      case REG_DAY: return enc(t.getUTCDate());
      case REG_MONTH: return enc(t.getUTCMonth() + 1);
      case REG_YEAR: return enc(t.getUTCFullYear() % 100);
      case REG_CENTURY: return enc(Math.floor(t.getUTCFullYear() / 100));
      case REG_A: return this.nvram[REG_A] & 0x7f;
      case REG_C: return 0;
      default: return this.nvram[reg];
    }
  }
}
