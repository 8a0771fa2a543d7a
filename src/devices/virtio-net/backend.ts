/**
 * What virtio-net needs of its host side. `Tap` (src/net/tap.ts) is the implementation;
 * the device depends on this shape only, so a test can wrap a real tap to watch calls.
 */
import type { TapPacketHandler } from '../../net/tap.js';

export interface NetBackend {
  /** For messages ("tap 'cj3t'"). */
  readonly name: string;
  /** The device compares droppedSends around a send to count packets the host refused. */
  readonly stats: { readonly droppedSends: number };
  /** One packet (virtio_net_hdr_v1 + frame) in pieces; false when queued: stop until whenDrained(). */
  send(packet: readonly Uint8Array[]): boolean;
  whenDrained(): Promise<void>;
  /** Attaches the one receiver of this back end; throws while another is attached. */
  receive(handler: TapPacketHandler, onError?: (error: Error) => void): void;
  /** Detaches the receiver (device reset), so a later receive() can attach again. */
  stopReceive(): void;
  /** Backpressure: stop / restart reading while the receiver stays attached. */
  pauseReceive(): void;
  resumeReceive(): void;
  /** TUNSETOFFLOAD flags (TunOffload); throws TapError when the kernel lacks one. */
  setOffloads(flags: number): void;
}
