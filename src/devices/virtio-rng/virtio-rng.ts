/**
 * virtio entropy device (virtio 1.2 §5.4): one request queue; the driver posts writable
 * buffers and the device fills them with random bytes from the host's CSPRNG. No feature
 * bits, no config space. Filling is synchronous: it is a memory copy, not I/O.
 */
import { randomFillSync } from 'node:crypto';
import { VIRTIO_ID_RNG } from '../virtio/constants.js';
import type { VirtioActivation, VirtioDevice, VirtioDeviceState } from '../virtio/device.js';
import { VirtioStateError } from '../virtio/errors.js';
import { StateReader } from '../virtio/state-fields.js';

export const VIRTIO_RNG_QUEUE_SIZE = 64;

export class VirtioRng implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly name = 'virtio-rng';
  readonly features = 0n;
  readonly queueMaxSizes = [VIRTIO_RNG_QUEUE_SIZE];
  readonly configSize = 0;
  private active?: VirtioActivation;

  readConfig(): void {}
  writeConfig(): void {}

  activate(activation: VirtioActivation): void {
    this.active = activation;
    // Buffers the driver posted before a restore still wait in the ring.
    this.processQueue(0);
  }

  processQueue(index: number): void {
    const a = this.active;
    if (!a || index !== 0) return;
    const q = a.queues[0];
    if (!q.ready) return;
    let pushed = false;
    for (let chain = q.pop(a.memory); chain; chain = q.pop(a.memory)) {
      for (const s of chain.writable) {
        randomFillSync(a.memory.view(s.gpa, s.len));
        a.memory.markWritten(s.gpa, s.len);
      }
      q.pushUsed(a.memory, chain.head, chain.writableBytes);
      pushed = true;
    }
    if (pushed) a.interrupt.usedBuffers(0);
  }

  reset(): void {
    this.active = undefined;
  }

  saveState(): VirtioDeviceState {
    return { version: 1 };
  }

  restoreState(state: unknown): void {
    const r = new StateReader('virtio-rng state', VirtioStateError);
    r.version(r.object(state), 1);
  }
}
