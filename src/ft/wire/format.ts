/**
 * Constants of the fault-tolerance channel (docs/PROTOCOL.md, "Fault-tolerance channel").
 * The frame layout and the first 12 bytes of the HELLO payload never change between
 * versions, so a peer of another version is always told so by name.
 */
import { PAGE_SIZE } from '../../snapshot/format.js';

export { PAGE_SIZE };

/** Bump on any incompatible change; a HELLO of another version is refused naming both. */
export const FT_CHANNEL_VERSION = 1;
export const HELLO_MAGIC = 'CUJUFT\0\0';

export enum MessageType {
  Hello = 1,
  Epoch = 2,
  Ack = 3,
  Cancel = 4,
  Heartbeat = 5,
  /** FT verify mode (wire/verify-messages.ts). */
  Verify = 6,
  VerifyResult = 7,
}

export const MESSAGE_NAMES: Record<number, string> = {
  [MessageType.Hello]: 'HELLO',
  [MessageType.Epoch]: 'EPOCH',
  [MessageType.Ack]: 'ACK',
  [MessageType.Cancel]: 'CANCEL',
  [MessageType.Heartbeat]: 'HEARTBEAT',
  [MessageType.Verify]: 'VERIFY',
  [MessageType.VerifyResult]: 'VERIFY_RESULT',
};

export type FtRole = 'primary' | 'backup';
export const ROLE_CODES: Record<FtRole, number> = { primary: 1, backup: 2 };

/** Which side may send which message (HELLO and HEARTBEAT go both ways). */
export const SENT_BY: Record<number, readonly FtRole[]> = {
  [MessageType.Hello]: ['primary', 'backup'],
  [MessageType.Epoch]: ['primary'],
  [MessageType.Ack]: ['backup'],
  [MessageType.Cancel]: ['primary'],
  [MessageType.Heartbeat]: ['primary', 'backup'],
  [MessageType.Verify]: ['primary'],
  [MessageType.VerifyResult]: ['backup'],
};

/**
 * Frame header: u32 type, u32 payload length, u64 sequence number, u32 CRC32 of those
 * 16 bytes. The header has its own CRC so a damaged length is caught before the reader
 * waits for (or allocates) the bytes it claims.
 */
export const FRAME_HEADER_SIZE = 20;
/** After the payload: u32 CRC32 of the payload. */
export const FRAME_CRC_SIZE = 4;

/** Exact or maximum payload sizes of the small messages. */
export const HELLO_FIXED_SIZE = 40;
export const MAX_HELLO_PAYLOAD = 256 * 1024;
export const ACK_PAYLOAD = 8;
export const HEARTBEAT_PAYLOAD = 8;
export const MAX_CANCEL_PAYLOAD = 4096;
export const MAX_DEVICES = 256;
export const MAX_DEVICE_NAME = 255;

/** EPOCH payload pieces (see docs/PROTOCOL.md for the layout). */
export const EPOCH_HEADER_SIZE = 20;
export const RUN_ENTRY_SIZE = 8;
/** Bit 31 of a run's page count: the run's pages are all zero and carry no bytes. */
export const ZERO_RUN_FLAG = 0x8000_0000;
export const MAX_VCPU_STATE = 1024 * 1024;
export const MAX_VM_STATE = 64 * 1024;
export const MAX_DEVICE_STATE = 64 * 1024 * 1024;
export const DISK_OP_HEADER_SIZE = 24;
export const MAX_DISK_OPS = 65536;
/** One write request's bytes; virtio-blk requests are far smaller. */
export const MAX_DISK_WRITE = 64 * 1024 * 1024;
/** All write bytes of one epoch: an epoch that writes more must end earlier. */
export const MAX_DISK_BYTES_PER_EPOCH = 256 * 1024 * 1024;
export const SHA256_SIZE = 32;
/** The frame's u32 length field bounds everything. */
export const MAX_FRAME_PAYLOAD = 0xffff_ffff;

export enum DiskOpKind {
  Write = 1,
  Discard = 2,
}
