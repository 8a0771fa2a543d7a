/**
 * Offsets of the x86 Linux boot protocol "setup header" (Documentation/arch/x86/boot.rst).
 * They are offsets both in a bzImage file and in boot_params (the zero page), because
 * the header sits at 0x1f1 in both. Shared by the bzImage reader and the zero-page builder.
 */

export const HDR_SETUP_SECTS = 0x1f1; // u8, 0 means 4
export const HDR_BOOT_FLAG = 0x1fe; // u16, 0xAA55
export const HDR_JUMP = 0x200; // u16: "jmp short"; its 2nd byte gives the header length
export const HDR_HEADER = 0x202; // u32, "HdrS"
export const HDR_VERSION = 0x206; // u16, boot protocol version
export const HDR_TYPE_OF_LOADER = 0x210; // u8
export const HDR_LOADFLAGS = 0x211; // u8
export const HDR_RAMDISK_IMAGE = 0x218; // u32
export const HDR_RAMDISK_SIZE = 0x21c; // u32
export const HDR_HEAP_END_PTR = 0x224; // u16
export const HDR_CMD_LINE_PTR = 0x228; // u32
export const HDR_INITRD_ADDR_MAX = 0x22c; // u32
export const HDR_KERNEL_ALIGNMENT = 0x230; // u32
export const HDR_XLOADFLAGS = 0x236; // u16
export const HDR_CMDLINE_SIZE = 0x238; // u32
export const HDR_PAYLOAD_OFFSET = 0x248; // u32
export const HDR_PAYLOAD_LENGTH = 0x24c; // u32
export const HDR_INIT_SIZE = 0x260; // u32

/** "HdrS" read as a little-endian u32. */
export const HDRS_MAGIC = 0x53726448;
export const BOOT_FLAG_MAGIC = 0xaa55;
/** Boot protocol 2.12 added xloadflags and with it the 64-bit entry point. */
export const MIN_PROTOCOL_FOR_64BIT_ENTRY = 0x020c;
export const XLF_KERNEL_64 = 1 << 0;

export const LOADFLAG_LOADED_HIGH = 0x01;
export const LOADFLAG_CAN_USE_HEAP = 0x80;

/** Where the setup header starts, and the end of the part that exists in every protocol version. */
export const SETUP_HEADER_START = HDR_SETUP_SECTS;

/**
 * End (exclusive) of the setup header as the image itself declares it: the byte at
 * 0x201 is the jump offset of the `jmp` at 0x200, which lands right after the header.
 */
export function setupHeaderEnd(image: Uint8Array): number {
  return HDR_HEADER + image[HDR_JUMP + 1];
}
