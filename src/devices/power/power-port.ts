/**
 * The power-off port of cuju's guest-kernel "cuju power" driver (guest/kernel/patches):
 * with no ACPI in the guest, `poweroff` ends in pm_power_off(), which writes 1 here.
 * The same driver listens on an ISA IRQ, which the VMM raises for system_powerdown.
 */
import type { BusDevice } from '../../vm/io-bus.js';

export const POWER_PORT = 0x600;
export const POWER_BUTTON_IRQ = 5;

export class PowerPort implements BusDevice {
  constructor(private readonly onPowerOff: () => void) {}

  read(): number {
    return 0;
  }

  write(offset: number, _size: number, value: number | bigint): void {
    if (offset === 0 && Number(value) === 1) this.onPowerOff();
  }
}

/** What the VMM appends to the kernel command line so the guest driver finds us. */
export function powerCmdline(): string {
  return `cuju.power=0x${POWER_PORT.toString(16)},${POWER_BUTTON_IRQ}`;
}
