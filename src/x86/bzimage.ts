/**
 * Reads a bzImage: validates its setup header and extracts the compressed payload
 * (the vmlinux ELF the in-guest decompressor would otherwise unpack).
 */
import { KernelFormatError } from './kernel-format-error.js';
import {
  HDR_HEADER, HDR_JUMP, HDR_PAYLOAD_LENGTH, HDR_PAYLOAD_OFFSET, HDR_SETUP_SECTS, HDR_VERSION, HDR_XLOADFLAGS,
  HDRS_MAGIC, MIN_PROTOCOL_FOR_64BIT_ENTRY, SETUP_HEADER_START, XLF_KERNEL_64, setupHeaderEnd,
} from './setup-header.js';

const SECTOR = 512;

export function isBzImage(image: Uint8Array): boolean {
  if (image.length < HDR_HEADER + 4) return false;
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  return dv.getUint32(HDR_HEADER, true) === HDRS_MAGIC;
}

export interface BzImage {
  /** Boot protocol version, e.g. 0x020f. */
  protocol: number;
  /** bytes 0x1f1..end of header, to copy into boot_params at 0x1f1. */
  setupHeader: Uint8Array;
  /** The compressed kernel (a subarray of the image). */
  payload: Uint8Array;
}

function version(v: number): string {
  return `${v >> 8}.${(v & 0xff).toString().padStart(2, '0')}`;
}

export function parseBzImage(image: Uint8Array): BzImage {
  if (!isBzImage(image)) throw new KernelFormatError('not a bzImage: no "HdrS" signature at offset 0x202');
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const protocol = dv.getUint16(HDR_VERSION, true);
  if (protocol < MIN_PROTOCOL_FOR_64BIT_ENTRY) {
    throw new KernelFormatError(
      `bzImage uses boot protocol ${version(protocol)}; a 64-bit entry needs 2.12 or later (Linux 3.8+): use a newer kernel or its vmlinux`,
    );
  }
  const headerEnd = setupHeaderEnd(image);
  if (headerEnd > image.length || headerEnd <= HDR_PAYLOAD_LENGTH + 4) {
    throw new KernelFormatError(`bzImage setup header is damaged: jump at 0x${HDR_JUMP.toString(16)} gives header end 0x${headerEnd.toString(16)}`);
  }
  if ((dv.getUint16(HDR_XLOADFLAGS, true) & XLF_KERNEL_64) === 0) {
    throw new KernelFormatError('bzImage has no 64-bit entry point (XLF_KERNEL_64 not set): use an x86-64 kernel');
  }
  const setupSects = image[HDR_SETUP_SECTS] || 4; // 0 means 4, for ancient compatibility
  const payloadStart = (setupSects + 1) * SECTOR + dv.getUint32(HDR_PAYLOAD_OFFSET, true);
  const payloadLength = dv.getUint32(HDR_PAYLOAD_LENGTH, true);
  if (payloadLength === 0 || payloadStart + payloadLength > image.length) {
    throw new KernelFormatError(
      `bzImage payload (offset 0x${payloadStart.toString(16)}, ${payloadLength} bytes) lies outside the ${image.length}-byte file (truncated image?)`,
    );
  }
  return {
    protocol,
    setupHeader: image.slice(SETUP_HEADER_START, headerEnd),
    payload: image.subarray(payloadStart, payloadStart + payloadLength),
  };
}
