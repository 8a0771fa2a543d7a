/**
 * A test device: one or more queues; processQueue pops every available chain, records
 * it, writes `fill` into its writable buffers and returns it used with len = writable bytes.
 */
import type { VirtioActivation, VirtioDevice, VirtioDeviceState } from '../../../src/devices/virtio/device.js';
import type { DescriptorChain } from '../../../src/devices/virtio/descriptor-chain.js';
import { scatterToSegments } from '../../../src/devices/virtio/descriptor-chain.js';

export class RecordingDevice implements VirtioDevice {
  readonly deviceId = 0x42;
  readonly name = 'recording';
  readonly features = 1n << 3n;
  readonly configSize = 8;
  readonly config = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
  readonly chains: DescriptorChain[] = [];
  readonly configWrites: [number, number[]][] = [];
  activations = 0;
  resets = 0;
  act?: VirtioActivation;
  /** When false, chains are popped and recorded but not returned (to test batching). */
  autoComplete = true;
  restored: unknown;

  constructor(readonly queueMaxSizes: readonly number[] = [16], readonly fill = 0xab) {}

  readConfig(offset: number, out: Uint8Array): void { out.set(this.config.subarray(offset, offset + out.length)); }
  writeConfig(offset: number, data: Uint8Array): void { this.configWrites.push([offset, [...data]]); }
  activate(a: VirtioActivation): void { this.act = a; this.activations++; }
  reset(): void { this.act = undefined; this.resets++; }

  processQueue(index: number): void {
    const a = this.act;
    if (!a) return;
    const q = a.queues[index];
    let pushed = false;
    for (let c = q.pop(a.memory); c; c = q.pop(a.memory)) {
      this.chains.push(c);
      if (!this.autoComplete) continue;
      scatterToSegments(a.memory, c.writable, new Uint8Array(c.writableBytes).fill(this.fill));
      q.pushUsed(a.memory, c.head, c.writableBytes);
      pushed = true;
    }
    if (pushed) a.interrupt.usedBuffers(index);
  }

  saveState(): VirtioDeviceState { return { version: 1, chains: this.chains.length }; }
  restoreState(state: unknown): void { this.restored = state; }
}
