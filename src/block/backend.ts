/**
 * What a block device model needs from a disk image. Buffers come from `acquire` so a
 * back end with alignment rules (O_DIRECT) can hand out suitably aligned memory; devices
 * copy between those buffers and guest RAM on the main thread, so guest RAM is only ever
 * written when a request completes (never from a thread-pool thread mid-checkpoint).
 */
export interface BlockBackend {
  /** Image size in bytes. */
  readonly sizeBytes: number;
  readonly readonly: boolean;
  /** Whether `discard` really deallocates (punches holes); devices offer DISCARD only then. */
  readonly canDiscard: boolean;
  /** A buffer of `length` bytes for read/write; give it back with `release`. */
  acquire(length: number): Uint8Array;
  release(buffer: Uint8Array): void;
  /** Fills `buffer` from image offset `offset` (whole buffer or BlockIoError). */
  read(offset: number, buffer: Uint8Array): Promise<void>;
  /** Writes all of `buffer` at image offset `offset`. */
  write(offset: number, buffer: Uint8Array): Promise<void>;
  /** Makes completed writes durable (fdatasync). */
  flush(): Promise<void>;
  /** Deallocates a range (reads back as zeros). Only when canDiscard. */
  discard(offset: number, length: number): Promise<void>;
  close(): Promise<void>;
}
