/**
 * virtio block device (virtio 1.2 §5.2) over a BlockBackend: one request queue; IN, OUT,
 * FLUSH, GET_ID and (when the back end can deallocate) DISCARD.
 *
 * processQueue only parses requests and starts their I/O; requests complete (data copied
 * into guest RAM, status byte, used ring, interrupt) when the back end's promise settles,
 * on the main thread. OUT data is copied out of guest RAM when the request starts; IN
 * data is copied into guest RAM when it completes. So guest RAM changes only on the main
 * thread, through GuestMemory (dirty tracking sees it).
 *
 * Requests in flight are recorded by head index in the saved state; after a restore they
 * are re-read from the (restored) rings and issued again. Re-issuing is safe: reads are
 * idempotent and a write re-issued writes the same guest data to the same place.
 *
 * Limits (advertised so a conforming driver never hits them): SEG_MAX = queue size - 2,
 * SIZE_MAX = 256 KiB per segment; a request over 32 MiB of data fails with IOERR, and no
 * more requests are taken while 64 MiB are in flight (taken again as requests complete),
 * which bounds what a hostile guest can make the VMM allocate.
 */
import type { BlockBackend } from '../../block/backend.js';
import { BlockIoError } from '../../block/errors.js';
import { VIRTIO_ID_BLOCK } from '../virtio/constants.js';
import { gatherSegments, scatterToSegments } from '../virtio/descriptor-chain.js';
import type { VirtioActivation, VirtioDevice, VirtioDeviceState } from '../virtio/device.js';
import { VirtioStateError } from '../virtio/errors.js';
import { StateReader } from '../virtio/state-fields.js';
import * as P from './protocol.js';
import { parseBlockRequest, type BlockRequest } from './request.js';

export interface VirtioBlkOptions {
  backend: BlockBackend;
  /** Returned by GET_ID (Linux: /sys/block/vdX/serial); at most 20 bytes. */
  serial?: string;
  /** Request queue size (power of two, at least 4); default 128. */
  queueSize?: number;
  /** I/O errors reported to the guest, for the VMM's log. */
  onWarning?: (message: string) => void;
}

export const DEFAULT_BLK_QUEUE_SIZE = 128;
export const BLK_SIZE_MAX = 256 * 1024;
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
export const IN_FLIGHT_BYTE_BUDGET = 64 * 1024 * 1024;
/** Discard limits advertised when DISCARD is offered. */
export const MAX_DISCARD_SECTORS = 0x3fffff;
export const MAX_DISCARD_SEGMENTS = 1;

interface Completion {
  status: number;
  /** Bytes written into the driver's buffers, status byte included. */
  usedLen: number;
}

/** One activation's bookkeeping; replaced on reset so late completions of old requests are dropped. */
interface Session {
  act: VirtioActivation;
  inFlight: Map<number, Promise<void>>;
  bytes: number;
}

export class VirtioBlk implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly name = 'virtio-blk';
  readonly features: bigint;
  readonly queueMaxSizes: readonly number[];
  readonly configSize = P.CONFIG_SIZE;
  private readonly backend: BlockBackend;
  private readonly config = new Uint8Array(P.CONFIG_SIZE);
  private readonly serial: Uint8Array;
  private readonly warn: (message: string) => void;
  private session?: Session;
  /** Heads recorded in flight by a restored state, issued again on activation. */
  private restoredInFlight: number[] = [];

  constructor(opts: VirtioBlkOptions) {
    const queueSize = opts.queueSize ?? DEFAULT_BLK_QUEUE_SIZE;
    if (!Number.isInteger(queueSize) || queueSize < 4 || queueSize > 32768 || (queueSize & (queueSize - 1)) !== 0) {
      throw new RangeError(`virtio-blk queue size must be a power of two in 4..32768, got ${queueSize}`);
    }
    this.backend = opts.backend;
    this.queueMaxSizes = [queueSize];
    this.warn = opts.onWarning ?? (() => {});
    const serial = Buffer.from(opts.serial ?? '', 'utf8');
    if (serial.length > P.VIRTIO_BLK_ID_BYTES) throw new RangeError(`virtio-blk serial '${opts.serial}' is longer than ${P.VIRTIO_BLK_ID_BYTES} bytes`);
    this.serial = new Uint8Array(P.VIRTIO_BLK_ID_BYTES);
    this.serial.set(serial);

    const discard = this.backend.canDiscard && !this.backend.readonly;
    this.features = P.VIRTIO_BLK_F_SIZE_MAX | P.VIRTIO_BLK_F_SEG_MAX | P.VIRTIO_BLK_F_BLK_SIZE | P.VIRTIO_BLK_F_FLUSH
      | (this.backend.readonly ? P.VIRTIO_BLK_F_RO : 0n) | (discard ? P.VIRTIO_BLK_F_DISCARD : 0n);
    const dv = new DataView(this.config.buffer);
    dv.setBigUint64(P.CFG_CAPACITY, BigInt(Math.floor(this.backend.sizeBytes / P.SECTOR_SIZE)), true);
    dv.setUint32(P.CFG_SIZE_MAX, BLK_SIZE_MAX, true);
    dv.setUint32(P.CFG_SEG_MAX, queueSize - 2, true); // Linux adds header + status descriptors
    dv.setUint32(P.CFG_BLK_SIZE, P.SECTOR_SIZE, true);
    if (discard) {
      dv.setUint32(P.CFG_MAX_DISCARD_SECTORS, MAX_DISCARD_SECTORS, true);
      dv.setUint32(P.CFG_MAX_DISCARD_SEG, MAX_DISCARD_SEGMENTS, true);
      dv.setUint32(P.CFG_DISCARD_SECTOR_ALIGNMENT, 4096 / P.SECTOR_SIZE, true);
    }
  }

  /** Number of requests started and not yet completed. */
  get inFlightCount(): number {
    return this.session?.inFlight.size ?? 0;
  }

  readConfig(offset: number, out: Uint8Array): void {
    out.set(this.config.subarray(offset, offset + out.length));
  }

  writeConfig(): void {
    // All fields we offer are read-only (writeback toggling needs CONFIG_WCE, not offered).
  }

  activate(act: VirtioActivation): void {
    this.session = { act, inFlight: new Map(), bytes: 0 };
    const heads = this.restoredInFlight;
    this.restoredInFlight = [];
    const q = act.queues[0];
    if (!q.ready) return;
    for (const head of heads) this.start(this.session, parseBlockRequest(act.memory, q.chainAt(act.memory, head)));
    this.processQueue(0);
  }

  processQueue(index: number): void {
    const s = this.session;
    if (!s || index !== 0) return;
    const q = s.act.queues[0];
    if (!q.ready) return;
    // Parse errors (VirtqueueError) propagate to the transport, which marks the device broken.
    while (s.bytes < IN_FLIGHT_BYTE_BUDGET) {
      const chain = q.pop(s.act.memory);
      if (!chain) break;
      this.start(s, parseBlockRequest(s.act.memory, chain));
    }
  }

  private start(s: Session, req: BlockRequest): void {
    if (s.inFlight.has(req.head)) {
      s.act.interrupt.needsReset(`virtio-blk: descriptor ${req.head} made available again while its request is in flight`);
      return;
    }
    const bytes = Math.min(req.dataInBytes + req.dataOutBytes, MAX_REQUEST_BYTES);
    s.bytes += bytes;
    const done = this.execute(s, req)
      .then((c) => this.complete(s, req, c), (e: unknown) => {
        if (this.session === s) s.act.interrupt.needsReset(`virtio-blk: ${(e as Error).message}`);
      })
      .finally(() => {
        s.inFlight.delete(req.head);
        s.bytes -= bytes;
        // Requests left in the ring when the budget ran out are taken now.
        if (this.session === s && s.bytes < IN_FLIGHT_BYTE_BUDGET) this.processQueueSafely(s);
      });
    s.inFlight.set(req.head, done);
  }

  private processQueueSafely(s: Session): void {
    try {
      this.processQueue(0);
    } catch (e) {
      s.act.interrupt.needsReset(`virtio-blk: ${(e as Error).message}`);
    }
  }

  private complete(s: Session, req: BlockRequest, c: Completion): void {
    if (this.session !== s) return; // device reset meanwhile: the driver forgot this request
    const { memory, queues, interrupt } = s.act;
    try {
      memory.writeU8(req.statusGpa, c.status);
      queues[0].pushUsed(memory, req.head, c.usedLen);
    } catch (e) {
      interrupt.needsReset(`virtio-blk: ${(e as Error).message}`);
      return;
    }
    interrupt.usedBuffers(0);
  }

  /** Performs one request; resolves with its status (I/O errors become IOERR). */
  private async execute(s: Session, req: BlockRequest): Promise<Completion> {
    try {
      switch (req.type) {
        case P.VIRTIO_BLK_T_IN: return await this.read(s, req);
        case P.VIRTIO_BLK_T_OUT: return await this.write(s, req);
        case P.VIRTIO_BLK_T_FLUSH:
          await this.backend.flush();
          return ok();
        case P.VIRTIO_BLK_T_GET_ID: {
          const n = scatterToSegments(s.act.memory, req.dataIn, this.serial);
          return { status: P.VIRTIO_BLK_S_OK, usedLen: n + 1 };
        }
        case P.VIRTIO_BLK_T_DISCARD: return await this.discard(s, req);
        default: return status(P.VIRTIO_BLK_S_UNSUPP);
      }
    } catch (e) {
      if (!(e instanceof BlockIoError)) throw e;
      this.warn(`virtio-blk: ${e.message}`);
      return status(P.VIRTIO_BLK_S_IOERR);
    }
  }

  /** Byte offset of a data transfer, or undefined when it is misaligned, too large or past the end. */
  private dataOffset(sector: bigint, length: number): number | undefined {
    if (length % P.SECTOR_SIZE !== 0 || length > MAX_REQUEST_BYTES) return undefined;
    const end = sector * BigInt(P.SECTOR_SIZE) + BigInt(length);
    if (end > BigInt(this.backend.sizeBytes)) return undefined;
    return Number(sector) * P.SECTOR_SIZE;
  }

  private async read(s: Session, req: BlockRequest): Promise<Completion> {
    const offset = this.dataOffset(req.sector, req.dataInBytes);
    if (offset === undefined) return this.outOfRange(req, req.dataInBytes);
    const buf = this.backend.acquire(req.dataInBytes);
    try {
      await this.backend.read(offset, buf);
      if (this.session !== s) return status(P.VIRTIO_BLK_S_IOERR); // dropped by complete()
      scatterToSegments(s.act.memory, req.dataIn, buf);
    } finally {
      this.backend.release(buf);
    }
    return { status: P.VIRTIO_BLK_S_OK, usedLen: req.dataInBytes + 1 };
  }

  private async write(s: Session, req: BlockRequest): Promise<Completion> {
    if (this.backend.readonly) return status(P.VIRTIO_BLK_S_IOERR);
    const offset = this.dataOffset(req.sector, req.dataOutBytes);
    if (offset === undefined) return this.outOfRange(req, req.dataOutBytes);
    const buf = this.backend.acquire(req.dataOutBytes);
    try {
      let at = 0;
      for (const seg of req.dataOut) {
        buf.set(s.act.memory.view(seg.gpa, seg.len), at);
        at += seg.len;
      }
      await this.backend.write(offset, buf);
    } finally {
      this.backend.release(buf);
    }
    return ok();
  }

  private async discard(s: Session, req: BlockRequest): Promise<Completion> {
    if (!(this.features & P.VIRTIO_BLK_F_DISCARD)) return status(this.backend.readonly ? P.VIRTIO_BLK_S_IOERR : P.VIRTIO_BLK_S_UNSUPP);
    const count = req.dataOutBytes / P.DISCARD_SEGMENT_SIZE;
    if (!Number.isInteger(count) || count < 1 || count > MAX_DISCARD_SEGMENTS) return status(P.VIRTIO_BLK_S_IOERR);
    const raw = gatherSegments(s.act.memory, req.dataOut);
    const dv = new DataView(raw.buffer);
    const ranges: [number, number][] = [];
    for (let i = 0; i < count; i++) {
      const sector = dv.getBigUint64(i * 16, true);
      const sectors = dv.getUint32(i * 16 + 8, true);
      const flags = dv.getUint32(i * 16 + 12, true);
      if (flags !== 0) return status(P.VIRTIO_BLK_S_UNSUPP); // §5.2.6.2: unmap is for WRITE_ZEROES only
      if (sectors > MAX_DISCARD_SECTORS) return status(P.VIRTIO_BLK_S_IOERR);
      const end = (sector + BigInt(sectors)) * BigInt(P.SECTOR_SIZE);
      if (end > BigInt(this.backend.sizeBytes)) return status(P.VIRTIO_BLK_S_IOERR);
      ranges.push([Number(sector) * P.SECTOR_SIZE, sectors * P.SECTOR_SIZE]);
    }
    for (const [offset, length] of ranges) await this.backend.discard(offset, length);
    return ok();
  }

  private outOfRange(req: BlockRequest, length: number): Completion {
    this.warn(`virtio-blk: request type ${req.type} for ${length} bytes at sector ${req.sector} is misaligned or outside the ${this.backend.sizeBytes}-byte disk`);
    return status(P.VIRTIO_BLK_S_IOERR);
  }

  reset(): void {
    this.session = undefined;
    this.restoredInFlight = [];
  }

  async quiesce(): Promise<void> {
    for (;;) {
      const pending = [...(this.session?.inFlight.values() ?? [])];
      if (pending.length === 0) return;
      await Promise.allSettled(pending);
    }
  }

  saveState(): VirtioDeviceState {
    return { version: 1, inFlight: [...this.restoredInFlight, ...(this.session?.inFlight.keys() ?? [])] };
  }

  restoreState(state: unknown): void {
    const r = new StateReader('virtio-blk state', VirtioStateError);
    const o = r.object(state);
    r.version(o, 1);
    const max = this.queueMaxSizes[0] - 1;
    const heads = r.array(o.inFlight, 'inFlight', this.queueMaxSizes[0]).map((h, i) => r.int(h, `inFlight[${i}]`, 0, max));
    if (new Set(heads).size !== heads.length) throw new VirtioStateError("virtio-blk state field 'inFlight' lists a descriptor twice");
    this.restoredInFlight = heads;
  }
}

function ok(): Completion {
  return { status: P.VIRTIO_BLK_S_OK, usedLen: 1 };
}

function status(code: number): Completion {
  return { status: code, usedLen: 1 };
}
