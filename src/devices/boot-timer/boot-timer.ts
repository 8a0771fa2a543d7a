/**
 * Boot timer: the guest's /init writes the magic byte 123 to this MMIO address
 * (`devmem 0xd0000000 8 123`), and the VMM records the time from process start
 * to guest user space (Firecracker's boot-timer device, same address and value).
 */
import type { BusDevice } from '../../vm/io-bus.js';

export const BOOT_TIMER_GPA = 0xd0000000;
export const BOOT_TIMER_SIZE = 0x1000;
const MAGIC = 123;

export class BootTimer implements BusDevice {
  constructor(private readonly onBooted: () => void) {}

  read(): number {
    return 0;
  }

  write(offset: number, _size: number, value: number | bigint): void {
    if (offset === 0 && Number(BigInt(value) & 0xffn) === MAGIC) this.onBooted();
  }
}
