/**
 * Returning several chains to the driver with one used-index update.
 *
 * A packet spread over several receive buffers (VIRTIO_NET_F_MRG_RXBUF) must appear in
 * the used ring all at once: the driver reads num_buffers from the first buffer and then
 * takes the others straight away (Linux's receive_mergeable counts any not yet there as
 * "missing" and misreads the next ones as new packets). SplitVirtqueue.pushUsed
 * publishes every entry as it goes; this writes the entries first and the index once.
 * (Worth moving into SplitVirtqueue as pushUsedBatch.)
 */
import type { GuestMemory } from '../../memory/guest-memory.js';
import { VIRTQ_USED_ELEM_SIZE } from '../virtio/constants.js';
import { memoryFence } from '../virtio/fence.js';
import type { SplitVirtqueue } from '../virtio/queue.js';

export interface UsedEntry {
  head: number;
  /** Bytes written into the chain's buffers. */
  len: number;
}

export function pushUsedTogether(mem: GuestMemory, q: SplitVirtqueue, entries: readonly UsedEntry[]): void {
  let idx = q.nextUsed;
  for (const { head, len } of entries) {
    const elem = q.deviceAddr + 4 + VIRTQ_USED_ELEM_SIZE * (idx % q.size);
    mem.writeU32(elem, head);
    mem.writeU32(elem + 4, len);
    idx = (idx + 1) & 0xffff;
  }
  q.nextUsed = idx;
  // Packet data and used elements must be visible before the index that publishes them.
  memoryFence();
  mem.writeU16(q.deviceAddr + 2, idx);
}
