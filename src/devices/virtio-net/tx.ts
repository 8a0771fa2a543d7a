/**
 * Sending one transmit chain (§5.1.6.2): virtio_net_hdr_v1 followed by the frame, split
 * across device-readable buffers any way the driver likes. The guest's buffers go to the
 * tap as views, in one writev, without a copy (the tap copies only if it must queue).
 * The header travels unchanged: the tap takes the same 12-byte virtio_net_hdr_v1, so
 * the guest's checksum and segmentation requests (CSUM, HOST_TSO*) reach the kernel.
 */
import type { GuestMemory } from '../../memory/guest-memory.js';
import { VNET_HEADER_SIZE } from '../../net/vnet-header.js';
import type { DescriptorChain } from '../virtio/descriptor-chain.js';
import { VirtqueueError } from '../virtio/errors.js';
import type { NetBackend } from './backend.js';
import { ETH_HEADER_BYTES, MAX_TX_FRAME_BYTES } from './protocol.js';

export interface TransmitResult {
  /** The host took the packet (false: refused or too short/long, so dropped). */
  sent: boolean;
  frameBytes: number;
  /** False when the back end queued it: send nothing more until whenDrained(). */
  backendReady: boolean;
}

/** Throws VirtqueueError for a chain that is not a transmit packet at all. */
export function transmitChain(mem: GuestMemory, chain: DescriptorChain, backend: NetBackend): TransmitResult {
  if (chain.writable.length > 0) {
    throw new VirtqueueError(`transmit chain (head ${chain.head}) has device-writable buffers; transmit buffers must all be device-readable`);
  }
  if (chain.readableBytes < VNET_HEADER_SIZE) {
    throw new VirtqueueError(`transmit chain (head ${chain.head}) has ${chain.readableBytes} bytes, less than the ${VNET_HEADER_SIZE}-byte virtio_net_hdr`);
  }
  const frameBytes = chain.readableBytes - VNET_HEADER_SIZE;
  // Not malformed rings, just bad frames: a NIC drops them and goes on.
  if (frameBytes < ETH_HEADER_BYTES || frameBytes > MAX_TX_FRAME_BYTES) return { sent: false, frameBytes, backendReady: true };
  const pieces = chain.readable.map((s) => mem.view(s.gpa, s.len));
  const droppedBefore = backend.stats.droppedSends;
  const backendReady = backend.send(pieces);
  return { sent: backend.stats.droppedSends === droppedBefore, frameBytes, backendReady };
}
