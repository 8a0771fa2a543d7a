/**
 * Numbers from the virtio 1.2 specification (OASIS virtio-v1.2-cs01) used by the MMIO
 * transport and the split virtqueue: register offsets (§4.2.2), device status bits (§2.1),
 * reserved feature bits (§6), descriptor and ring flags (§2.7).
 */

/** "virt" in little-endian. */
export const VIRTIO_MMIO_MAGIC = 0x74726976;
/** Version 2 is the modern (virtio 1.x) MMIO interface; 1 was legacy. */
export const VIRTIO_MMIO_VERSION = 2;
/** Vendor ID reported by our devices: "CUJU" as little-endian bytes (QEMU reports "QEMU" the same way). */
export const VIRTIO_VENDOR_ID = 0x554a5543;
/** Size of one transport's MMIO window: registers 0x000..0x0ff, device config from 0x100. */
export const VIRTIO_MMIO_WINDOW_SIZE = 0x200;

// Register offsets (§4.2.2).
export const REG_MAGIC_VALUE = 0x000;
export const REG_VERSION = 0x004;
export const REG_DEVICE_ID = 0x008;
export const REG_VENDOR_ID = 0x00c;
export const REG_DEVICE_FEATURES = 0x010;
export const REG_DEVICE_FEATURES_SEL = 0x014;
export const REG_DRIVER_FEATURES = 0x020;
export const REG_DRIVER_FEATURES_SEL = 0x024;
/** Legacy-only registers (version 1): a modern device ignores them. */
export const REG_LEGACY_GUEST_PAGE_SIZE = 0x028;
export const REG_LEGACY_QUEUE_PFN = 0x040;
export const REG_QUEUE_SEL = 0x030;
export const REG_QUEUE_NUM_MAX = 0x034;
export const REG_QUEUE_NUM = 0x038;
export const REG_QUEUE_READY = 0x044;
export const REG_QUEUE_NOTIFY = 0x050;
export const REG_INTERRUPT_STATUS = 0x060;
export const REG_INTERRUPT_ACK = 0x064;
export const REG_STATUS = 0x070;
export const REG_QUEUE_DESC_LOW = 0x080;
export const REG_QUEUE_DESC_HIGH = 0x084;
export const REG_QUEUE_DRIVER_LOW = 0x090;
export const REG_QUEUE_DRIVER_HIGH = 0x094;
export const REG_QUEUE_DEVICE_LOW = 0x0a0;
export const REG_QUEUE_DEVICE_HIGH = 0x0a4;
export const REG_CONFIG_GENERATION = 0x0fc;
export const REG_CONFIG = 0x100;

// Device status bits (§2.1).
export const STATUS_ACKNOWLEDGE = 0x01;
export const STATUS_DRIVER = 0x02;
export const STATUS_DRIVER_OK = 0x04;
export const STATUS_FEATURES_OK = 0x08;
export const STATUS_DEVICE_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

// InterruptStatus bits (§4.2.2).
export const INT_USED_BUFFER = 0x1;
export const INT_CONFIG_CHANGE = 0x2;

// Reserved feature bits (§6), as bigints because the feature space is 64 bits wide.
export const VIRTIO_F_RING_INDIRECT_DESC = 1n << 28n;
export const VIRTIO_F_RING_EVENT_IDX = 1n << 29n;
export const VIRTIO_F_VERSION_1 = 1n << 32n;

// Descriptor flags (§2.7.5).
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** Size of one descriptor: addr u64, len u32, flags u16, next u16. */
export const VIRTQ_DESC_SIZE = 16;

// Ring flags (§2.7.6, §2.7.8).
export const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
export const VIRTQ_USED_F_NO_NOTIFY = 1;
/** Size of one used-ring element: id u32, len u32. */
export const VIRTQ_USED_ELEM_SIZE = 8;

// Device IDs (§5).
export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_RNG = 4;

/** Largest queue the split ring allows (§2.7: Queue Size is at most 32768). */
export const VIRTQ_MAX_SIZE = 32768;
