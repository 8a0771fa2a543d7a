/** virtio-blk numbers (virtio 1.2 §5.2; Linux include/uapi/linux/virtio_blk.h). */

export const SECTOR_SIZE = 512;

// Feature bits.
export const VIRTIO_BLK_F_SIZE_MAX = 1n << 1n;
export const VIRTIO_BLK_F_SEG_MAX = 1n << 2n;
export const VIRTIO_BLK_F_RO = 1n << 5n;
export const VIRTIO_BLK_F_BLK_SIZE = 1n << 6n;
export const VIRTIO_BLK_F_FLUSH = 1n << 9n;
export const VIRTIO_BLK_F_DISCARD = 1n << 13n;

// Request types.
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;

// Status byte.
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

/** Request header: type u32, reserved u32, sector u64. */
export const REQUEST_HEADER_SIZE = 16;
/** GET_ID answers with a 20-byte serial, NUL-padded (no NUL when exactly 20 bytes). */
export const VIRTIO_BLK_ID_BYTES = 20;
/** One discard segment: sector u64, num_sectors u32, flags u32. */
export const DISCARD_SEGMENT_SIZE = 16;
export const DISCARD_FLAG_UNMAP = 1;

// Config space offsets (struct virtio_blk_config).
export const CFG_CAPACITY = 0; // u64, 512-byte sectors
export const CFG_SIZE_MAX = 8; // u32
export const CFG_SEG_MAX = 12; // u32
export const CFG_BLK_SIZE = 20; // u32
export const CFG_MAX_DISCARD_SECTORS = 36; // u32
export const CFG_MAX_DISCARD_SEG = 40; // u32
export const CFG_DISCARD_SECTOR_ALIGNMENT = 44; // u32
/** Through write_zeroes_may_unmap and its padding. */
export const CONFIG_SIZE = 60;
