/**
 * Placing one received packet (virtio_net_hdr_v1 + frame, from the tap) into the
 * driver's receive buffers (§5.1.6.3, §5.1.6.4).
 *
 * Chains are popped from the receive queue as needed and kept here until a packet fills
 * them (`held`), so a packet that does not fit yet never loses buffers:
 *  - without MRG_RXBUF a packet goes into exactly one chain; one too small for it is
 *    dropped and the chain kept for the next packet (as QEMU does);
 *  - with MRG_RXBUF a packet spans as many chains as it needs, num_buffers says how many,
 *    and all of them are published together; a packet larger than all the buffers the
 *    ring can hold at once (we hold every descriptor and it still does not fit) is dropped.
 * Every byte goes into guest RAM through GuestMemory.write (dirty tracking sees it).
 */
import type { GuestMemory } from '../../memory/guest-memory.js';
import { VNET_HEADER_SIZE } from '../../net/vnet-header.js';
import type { DescriptorChain } from '../virtio/descriptor-chain.js';
import { VirtqueueError } from '../virtio/errors.js';
import type { SplitVirtqueue, UsedElement } from '../virtio/queue.js';

export type Placement =
  /** Written and published; `buffers` chains used. */
  | { kind: 'delivered'; buffers: number }
  /** Cannot ever fit the buffers the driver gives: drop it. */
  | { kind: 'too-big' }
  /** Not enough buffers posted yet: keep the packet and wait for the driver. */
  | { kind: 'no-room' };

export interface ReceiveOptions {
  mergeable: boolean;
  /** GUEST_CSUM negotiated; otherwise header flags must be zero (§5.1.6.4.1). */
  guestCsum: boolean;
}

const NUM_BUFFERS_OFFSET = 10;

export class ReceiveBuffers {
  /** Chains popped from the ring and not yet filled, oldest first. */
  readonly held: DescriptorChain[] = [];
  private readonly header = new Uint8Array(VNET_HEADER_SIZE);

  constructor(
    private readonly mem: GuestMemory,
    private readonly queue: SplitVirtqueue,
    private readonly options: ReceiveOptions,
  ) {}

  /** Takes back chains a saved state recorded as held (re-read from the restored ring). */
  restoreHeld(heads: readonly number[]): void {
    for (const head of heads) this.held.push(checkedRxChain(this.queue.chainAt(this.mem, head)));
  }

  /** Throws VirtqueueError when the driver posted a malformed receive chain. */
  place(packet: Uint8Array): Placement {
    if (!this.queue.ready) return { kind: 'no-room' };
    const need = packet.length;
    const count = this.options.mergeable ? this.chainsForMergeable(need) : this.chainForSingle(need);
    if (typeof count !== 'number') return count;
    const chains = this.held.splice(0, count);

    this.header.set(packet.subarray(0, VNET_HEADER_SIZE));
    if (!this.options.guestCsum) this.header[0] = 0;
    this.header[NUM_BUFFERS_OFFSET] = count & 0xff;
    this.header[NUM_BUFFERS_OFFSET + 1] = count >> 8;
    const used = this.scatter(chains, [this.header, packet.subarray(VNET_HEADER_SIZE)]);
    // All of a packet's buffers appear at once (num_buffers is read from the first).
    this.queue.pushUsedBatch(this.mem, used);
    return { kind: 'delivered', buffers: count };
  }

  private chainForSingle(need: number): number | Placement {
    if (this.held.length === 0 && !this.popOne()) return { kind: 'no-room' };
    return this.held[0].writableBytes >= need ? 1 : { kind: 'too-big' };
  }

  private chainsForMergeable(need: number): number | Placement {
    let capacity = 0;
    let descriptors = 0;
    for (let i = 0; i < this.held.length; i++) {
      capacity += this.held[i].writableBytes;
      descriptors += this.held[i].writable.length;
      if (capacity >= need) return i + 1;
    }
    for (;;) {
      // We hold every descriptor of the ring: the driver cannot post more until we return some.
      if (descriptors >= this.queue.size) return { kind: 'too-big' };
      const chain = this.popOne();
      if (!chain) return { kind: 'no-room' };
      capacity += chain.writableBytes;
      descriptors += chain.writable.length;
      if (capacity >= need) return this.held.length;
    }
  }

  private popOne(): DescriptorChain | undefined {
    const chain = this.queue.pop(this.mem);
    if (chain) this.held.push(checkedRxChain(chain));
    return chain;
  }

  /** Copies the pieces across the chains' writable buffers in order; the used length of each chain. */
  private scatter(chains: readonly DescriptorChain[], pieces: readonly Uint8Array[]): UsedElement[] {
    const source = new ByteCursor(pieces);
    return chains.map((chain) => {
      let written = 0;
      for (const seg of chain.writable) {
        for (let at = 0; at < seg.len;) {
          const bytes = source.take(seg.len - at);
          if (bytes.length === 0) break;
          this.mem.write(seg.gpa + at, bytes);
          at += bytes.length;
          written += bytes.length;
        }
      }
      return { head: chain.head, len: written };
    });
  }
}

/** Reads the concatenation of some byte arrays front to back, as views. */
class ByteCursor {
  private piece = 0;
  private at = 0;

  constructor(private readonly pieces: readonly Uint8Array[]) {}

  /** Up to `max` next bytes, or an empty array at the end. */
  take(max: number): Uint8Array {
    while (this.piece < this.pieces.length && this.at === this.pieces[this.piece].length) {
      this.piece++;
      this.at = 0;
    }
    if (this.piece === this.pieces.length) return new Uint8Array(0);
    const bytes = this.pieces[this.piece].subarray(this.at, this.at + max);
    this.at += bytes.length;
    return bytes;
  }
}

function checkedRxChain(chain: DescriptorChain): DescriptorChain {
  if (chain.readable.length > 0) {
    throw new VirtqueueError(`receive chain (head ${chain.head}) has device-readable buffers; receive buffers must all be device-writable`);
  }
  if (chain.writableBytes === 0) throw new VirtqueueError(`receive chain (head ${chain.head}) has no writable bytes`);
  return chain;
}
