/**
 * Constants of the cuju snapshot format (docs/PROTOCOL.md has the byte layout). The
 * same byte stream is a snapshot file and, later, a migration stream: memory comes in
 * passes first, the vCPU, VM and device state last.
 */

export const MAGIC = 'CUJUSNAP';
/** Bump on any incompatible change; readers refuse newer versions by name. */
export const FORMAT_VERSION = 1;
/** No flags are defined in version 1: a reader refuses any set bit rather than guess. */
export const KNOWN_FLAGS = 0;

export const PAGE_SIZE = 4096;
/** Fixed part of the header before the device list (magic .. device count). */
export const HEADER_FIXED_SIZE = 40;
/** Headers are small; anything larger is damage, not a machine. */
export const MAX_HEADER_SIZE = 64 * 1024;
export const MAX_DEVICES = 256;
export const MAX_VCPUS = 4096;

export enum SectionType {
  Memory = 1,
  Vcpu = 2,
  Vm = 3,
  Device = 4,
  End = 0xffffffff,
}

export const SECTION_NAMES: Record<number, string> = {
  [SectionType.Memory]: 'memory',
  [SectionType.Vcpu]: 'vcpu',
  [SectionType.Vm]: 'vm',
  [SectionType.Device]: 'device',
  [SectionType.End]: 'end',
};

/** Section frame: u32 type, u32 index, u64 payload length, payload, u32 CRC32. */
export const FRAME_HEADER_SIZE = 16;
export const FRAME_CRC_SIZE = 4;
/** Trailer after the end section: SHA-256 of every byte before it. */
export const TRAILER_SIZE = 32;

/** Memory payload: u64 GPA, u32 page count, u32 encoding, then the page bytes (data encoding). */
export const MEMORY_RUN_HEADER_SIZE = 16;
/** Pages per memory section: bounds what a reader holds to check one CRC (1 MiB). */
export const MAX_PAGES_PER_RUN = 256;

export enum PageEncoding {
  /** The pages' bytes follow. */
  Data = 0,
  /** The pages are all zero; no bytes follow (a page the guest cleared since an earlier pass). */
  Zero = 1,
}

/** Upper bounds on payload sizes, so a damaged length never makes a reader allocate wildly. */
export const MAX_PAYLOAD: Record<number, number> = {
  [SectionType.Memory]: MEMORY_RUN_HEADER_SIZE + MAX_PAGES_PER_RUN * PAGE_SIZE,
  [SectionType.Vcpu]: 1024 * 1024,
  [SectionType.Vm]: 64 * 1024,
  [SectionType.Device]: 64 * 1024 * 1024,
  [SectionType.End]: 0,
};
