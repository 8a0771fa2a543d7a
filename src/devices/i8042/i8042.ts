/**
 * The bit of the i8042 keyboard controller a PC guest needs: Linux reboots by
 * writing 0xFE (pulse reset line) to port 0x64. There is no keyboard behind it.
 */
import type { BusDevice } from '../../vm/io-bus.js';

export const I8042_DATA_PORT = 0x60;
export const I8042_COMMAND_PORT = 0x64;
const CMD_RESET_CPU = 0xfe;

export class I8042 implements BusDevice {
  constructor(private readonly onReset: () => void) {}

  /** Offsets: 0 = port 0x60 (data), 4 = port 0x64 (status/command). */
  read(offset: number): number {
    // Status 0: output buffer empty, input buffer empty, so drivers never wait on us.
    return offset === 4 ? 0 : 0;
  }

  write(offset: number, _size: number, value: number | bigint): void {
    if (offset === 4 && Number(value) === CMD_RESET_CPU) this.onReset();
  }
}
