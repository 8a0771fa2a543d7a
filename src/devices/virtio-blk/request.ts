/**
 * Splitting a virtio-blk descriptor chain into a request (§5.2.6). The layout is a byte
 * stream, not a fixed set of descriptors (§2.6.4: no assumptions about framing): the first
 * 16 readable bytes are the header, the remaining readable bytes are data for the device,
 * the last writable byte is the status and the writable bytes before it are data for the
 * driver.
 */
import type { GuestMemory } from '../../memory/guest-memory.js';
import { gatherSegments, sliceSegments, type DescriptorChain, type GuestSegment } from '../virtio/descriptor-chain.js';
import { VirtqueueError } from '../virtio/errors.js';
import { REQUEST_HEADER_SIZE } from './protocol.js';

export interface BlockRequest {
  head: number;
  type: number;
  sector: bigint;
  /** Driver-provided data (OUT, DISCARD segments). */
  dataOut: GuestSegment[];
  dataOutBytes: number;
  /** Buffers the device fills (IN, GET_ID). */
  dataIn: GuestSegment[];
  dataInBytes: number;
  /** Where the status byte goes. */
  statusGpa: number;
}

/** Throws VirtqueueError when the chain cannot hold a header and a status byte. */
export function parseBlockRequest(mem: GuestMemory, chain: DescriptorChain): BlockRequest {
  if (chain.readableBytes < REQUEST_HEADER_SIZE) {
    throw new VirtqueueError(`virtio-blk request (head ${chain.head}) has ${chain.readableBytes} readable bytes, less than the 16-byte header`);
  }
  if (chain.writableBytes < 1) throw new VirtqueueError(`virtio-blk request (head ${chain.head}) has no writable status byte`);
  const header = gatherSegments(mem, sliceSegments(chain.readable, 0, REQUEST_HEADER_SIZE));
  const dv = new DataView(header.buffer);
  const dataOutBytes = chain.readableBytes - REQUEST_HEADER_SIZE;
  const dataInBytes = chain.writableBytes - 1;
  return {
    head: chain.head,
    type: dv.getUint32(0, true),
    sector: dv.getBigUint64(8, true),
    dataOut: sliceSegments(chain.readable, REQUEST_HEADER_SIZE, dataOutBytes),
    dataOutBytes,
    dataIn: sliceSegments(chain.writable, 0, dataInBytes),
    dataInBytes,
    statusGpa: sliceSegments(chain.writable, dataInBytes, 1)[0].gpa,
  };
}
