/**
 * The contract between the virtio-mmio transport and a device model (blk, rng, net...).
 * See README.md in this folder for the life cycle; in short:
 *
 *   transport                                device
 *   ---------                                ------
 *   reads deviceId, features, queueMaxSizes
 *   config space reads/writes           ->   readConfig / writeConfig
 *   Status |= DRIVER_OK                 ->   activate({ memory, queues, features, interrupt })
 *   QueueNotify / ioeventfd             ->   processQueue(index)
 *   device finished buffers             <-   queue.pushUsed(...); interrupt.usedBuffers(index)
 *   device config changed               <-   interrupt.configChanged()
 *   device met malformed guest data     <-   interrupt.needsReset(reason)   (or throw VirtqueueError)
 *   Status = 0                          ->   reset()
 *   snapshot                            ->   saveState() / restoreState(state) before activate
 *
 * Rules for devices:
 *  - Never throw out of processQueue for guest mistakes: throwing VirtqueueError (or any
 *    error) is caught by the transport, which marks the device DEVICE_NEEDS_RESET. In
 *    asynchronous completions (no transport frame on the stack) call interrupt.needsReset.
 *  - Touch guest RAM only through `memory` (GuestMemory): write with its write methods, or
 *    write through a view() and then call memory.markWritten(gpa, len), so dirty tracking
 *    for migration/replication sees every VMM write.
 *  - Do slow work (file or network I/O) off the vCPU path: processQueue runs inside a vCPU
 *    exit (or an ioeventfd callback) and should only start work and return.
 *  - State is plain JSON (numbers, strings, booleans; bytes as base64, 64-bit values as
 *    decimal strings) with `version: 1`; restoreState validates it and throws a typed error
 *    naming the bad field.
 */
import type { GuestMemory } from '../../memory/guest-memory.js';
import type { SplitVirtqueue } from './queue.js';

/** Interrupt signalling a device gets on activation. */
export interface VirtioInterrupt {
  /** Used buffers were pushed to queue `index`: interrupts the guest unless it suppressed it. */
  usedBuffers(index: number): void;
  /** Device config space changed: bumps ConfigGeneration and raises a config interrupt. */
  configChanged(): void;
  /** The device met guest data it cannot handle: sets DEVICE_NEEDS_RESET and stops the device. */
  needsReset(reason: string): void;
}

export interface VirtioActivation {
  memory: GuestMemory;
  /** One per entry of queueMaxSizes; only queues the driver made ready are usable. */
  queues: readonly SplitVirtqueue[];
  /** Features both sides agreed on (device-specific and transport bits). */
  features: bigint;
  interrupt: VirtioInterrupt;
}

/** A device's own saved state; the transport stores queues, features and status itself. */
export interface VirtioDeviceState {
  version: 1;
  [field: string]: unknown;
}

export interface VirtioDevice {
  /** Virtio device ID (§5): 1 net, 2 block, 4 entropy... */
  readonly deviceId: number;
  /** Short name for diagnostics ("virtio-blk"). */
  readonly name: string;
  /** Device-specific feature bits offered; the transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX. */
  readonly features: bigint;
  /** Maximum size of each queue (powers of two); the length is the number of queues. */
  readonly queueMaxSizes: readonly number[];
  /** Bytes of device config space (read at MMIO offset 0x100). */
  readonly configSize: number;
  /** Fills `out` from config offset `offset` (already bounds-checked against configSize). */
  readConfig(offset: number, out: Uint8Array): void;
  /** Driver wrote config bytes (already bounds-checked); most devices ignore writes. */
  writeConfig(offset: number, data: Uint8Array): void;
  /** The driver set DRIVER_OK: start serving. Also called after restoreState when the saved device was live. */
  activate(activation: VirtioActivation): void;
  /** The driver notified queue `index` (or its ioeventfd fired). */
  processQueue(index: number): void;
  /** Status written 0: forget the activation and everything in flight, back to power-on state. */
  reset(): void;
  saveState(): VirtioDeviceState;
  /** Validates and loads a saved state into a reset device; activate() follows if the device was live. */
  restoreState(state: unknown): void;
  /**
   * Before a snapshot: stop taking host-side input that would change guest RAM, and
   * resolve when no asynchronous work is in flight. thaw() undoes the first part.
   */
  quiesce?(): Promise<void>;
  /** After quiesce(), when the VM runs again: take host-side input again. */
  thaw?(): void;
}
