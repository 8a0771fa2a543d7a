/**
 * Follows a migration stream (source → destination) as it passes by and names the
 * part every byte belongs to: the 16-byte hello, the snapshot header, each section
 * frame (type and index, i.e. the pass number of a memory section), the SHA-256
 * trailer and the command lines after it; or, for the other direction, the reply
 * lines. The fault proxy uses it to hit a chosen part at a chosen byte.
 *
 * A part is announced (onPart) once it is identified: at its first byte for parts
 * of known length, after its head for a header (20 bytes) or a section frame (16).
 * `identifiedThrough` tells how far bytes may be forwarded without passing a part
 * that is not identified yet.
 */
import { FRAME_CRC_SIZE, FRAME_HEADER_SIZE, SECTION_NAMES, TRAILER_SIZE } from '../../src/snapshot/format.js';
import { HEADER_PREFIX_SIZE } from '../../src/snapshot/header.js';
import { HELLO_SIZE } from '../../src/migration/wire.js';

export type PartKind = 'hello' | 'header' | 'memory' | 'vcpu' | 'vm' | 'device' | 'end' | 'trailer' | 'commands' | 'reply';

export interface StreamPart {
  kind: PartKind;
  /** Offset of its first byte in the direction's byte stream. */
  start: number;
  /** Bytes; Infinity for the open-ended command part. */
  length: number;
  /** Section index (memory: pass number; vcpu/device: ordinal); reply: line number. */
  index: number;
}

interface Current {
  kind: PartKind;
  start: number;
  headSize: number;
  head: number[];
  length?: number;
  index: number;
}

export class StreamMap {
  /** Bytes seen so far. */
  offset = 0;
  private current: Current;
  private replyLines = 0;

  constructor(readonly direction: 'stream' | 'replies', private readonly onPart: (p: StreamPart) => void) {
    this.current = this.begin(direction === 'stream' ? 'hello' : 'reply', 0);
    this.next(this.current);
  }

  get identifiedThrough(): number {
    return this.current.length === undefined ? this.current.start : this.offset;
  }

  feed(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      const c = this.current;
      if (c.length === undefined) {
        const take = Math.min(c.headSize - c.head.length, chunk.length - at);
        for (let i = 0; i < take; i++) c.head.push(chunk[at + i]);
        at += take;
        this.offset += take;
        if (c.head.length === c.headSize) this.identify(c);
        continue;
      }
      if (c.kind === 'reply') {
        const nl = chunk.indexOf(0x0a, at);
        const end = nl < 0 ? chunk.length : nl + 1;
        this.offset += end - at;
        at = end;
        if (nl >= 0) this.next(this.begin('reply', ++this.replyLines));
        continue;
      }
      const take = Math.min(c.start + c.length - this.offset, chunk.length - at);
      at += take;
      this.offset += take;
      if (this.offset === c.start + c.length) this.next(this.after(c));
    }
  }

  /** A part starting here; `headSize` bytes must be seen before its length (and, for a section, its kind) is known. */
  private begin(kind: PartKind, index: number, headSize = 0): Current {
    return { kind, start: this.offset, headSize, head: [], index };
  }

  /** A section frame: its kind is a placeholder until the frame head is read. */
  private beginSection(): Current {
    return this.begin('memory', 0, FRAME_HEADER_SIZE);
  }

  private next(c: Current): void {
    this.current = c;
    if (c.headSize === 0) this.identify(c);
  }

  private identify(c: Current): void {
    const head = Buffer.from(c.head);
    switch (c.kind) {
      case 'hello': c.length = HELLO_SIZE; break;
      case 'trailer': c.length = TRAILER_SIZE; break;
      case 'commands': case 'reply': c.length = Infinity; break;
      case 'header': c.length = head.readUInt32LE(16); break;
      default: {
        const type = head.readUInt32LE(0);
        if (!(type in SECTION_NAMES)) throw new Error(`stream map: unknown section type ${type} at byte ${c.start}`);
        c.kind = SECTION_NAMES[type] as PartKind;
        c.index = head.readUInt32LE(4);
        c.length = FRAME_HEADER_SIZE + Number(head.readBigUInt64LE(8)) + FRAME_CRC_SIZE;
      }
    }
    this.onPart({ kind: c.kind, start: c.start, length: c.length, index: c.index });
  }

  private after(c: Current): Current {
    switch (c.kind) {
      case 'hello': return this.begin('header', 0, HEADER_PREFIX_SIZE);
      case 'end': return this.begin('trailer', 0);
      case 'trailer': return this.begin('commands', 0);
      default: return this.beginSection();
    }
  }
}
