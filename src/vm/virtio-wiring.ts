/**
 * Puts virtio devices on a board: one virtio-mmio slot each (MMIO window, level GSI),
 * a KVM ioeventfd per queue so a guest kick never exits to JavaScript, and the
 * kernel command-line words that declare the devices to the guest.
 */
import { EventFd } from '../kvm/eventfd.js';
import type { Board } from './board.js';
import type { IoBus } from './io-bus.js';
import type { VirtioDevice } from '../devices/virtio/device.js';
import { VirtioMmioTransport } from '../devices/virtio/mmio-transport.js';
import { virtioMmioCmdline, virtioMmioSlot } from '../devices/virtio/mmio-layout.js';

/** Makes a fresh device model for each board (a reset starts devices from scratch). */
export interface VirtioDeviceFactory {
  readonly name: string;
  create(): VirtioDevice;
}

export interface WiredVirtio {
  transports: VirtioMmioTransport[];
  cmdline: string[];
  /** Stops the ioeventfd watchers (the KVM side goes with the VM fd). */
  dispose(): void;
}

export function wireVirtioDevices(
  board: Board,
  mmio: IoBus,
  factories: readonly VirtioDeviceFactory[],
  warn: (message: string) => void,
): WiredVirtio {
  const transports: VirtioMmioTransport[] = [];
  const cmdline: string[] = [];
  const eventFds: EventFd[] = [];
  factories.forEach((factory, n) => {
    const slot = virtioMmioSlot(n);
    const device = factory.create();
    const transport = new VirtioMmioTransport({
      memory: board.mem,
      device,
      line: { set: (level) => board.vm.irqLine(slot.gsi, level) },
      onWarning: (m) => warn(`${factory.name}: ${m}`),
    });
    mmio.register(slot.base, slot.size, factory.name, transport);
    device.queueMaxSizes.forEach((_size, queue) => {
      const efd = new EventFd();
      board.vm.ioeventfd(slot.notifyAddress, 4, efd.fd, { datamatch: BigInt(queue) });
      efd.watch(() => transport.notify(queue));
      eventFds.push(efd);
    });
    transports.push(transport);
    cmdline.push(virtioMmioCmdline(slot));
  });
  return {
    transports,
    cmdline,
    dispose: () => {
      for (const e of eventFds) e.close();
    },
  };
}
