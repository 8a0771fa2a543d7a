/**
 * struct virtio_net_hdr_v1 (virtio 1.x, 5.1.6): the 12-byte header in front of every
 * frame between the guest and virtio-net, and between us and the tap (IFF_VNET_HDR
 * with TUNSETVNETHDRSZ = 12), so the guest's checksum/segmentation offload requests
 * travel unchanged. Little-endian, as virtio 1.x always is.
 *
 *   u8 flags; u8 gso_type; le16 hdr_len; le16 gso_size;
 *   le16 csum_start; le16 csum_offset; le16 num_buffers;
 */

export const VNET_HEADER_SIZE = 12;

/** virtio_net_hdr.flags */
export const VnetFlags = {
  /** csum_start/csum_offset say where the receiver must put the checksum. */
  NEEDS_CSUM: 1,
  /** The checksum was already verified (receive side only). */
  DATA_VALID: 2,
  RSC_INFO: 4,
} as const;

/** virtio_net_hdr.gso_type */
export const VnetGso = {
  NONE: 0,
  TCPV4: 1,
  UDP: 3,
  TCPV6: 4,
  UDP_L4: 5,
  /** OR-ed into TCPV4/TCPV6 when the segments carry ECN CWR. */
  ECN: 0x80,
} as const;

export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
  /**
   * With mergeable receive buffers: how many descriptor chains this packet spans.
   * The tap never fills it (it writes the first 10 bytes); virtio-net sets it.
   */
  numBuffers: number;
}

/** A header that asks for nothing: no checksum work, no segmentation. */
export const PLAIN_VNET_HEADER: Readonly<VnetHeader> = Object.freeze({
  flags: 0,
  gsoType: VnetGso.NONE,
  hdrLen: 0,
  gsoSize: 0,
  csumStart: 0,
  csumOffset: 0,
  numBuffers: 0,
});

export class VnetHeaderError extends Error {
  override readonly name = 'VnetHeaderError';
}

function checkField(name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new VnetHeaderError(`virtio_net_hdr.${name} = ${value} does not fit (0..${max})`);
  }
}

/** Writes the header into target[offset .. offset+12); returns target. */
export function encodeVnetHeader(header: VnetHeader, target = new Uint8Array(VNET_HEADER_SIZE), offset = 0): Uint8Array {
  if (target.length - offset < VNET_HEADER_SIZE) throw new VnetHeaderError(`need ${VNET_HEADER_SIZE} bytes for a virtio_net_hdr`);
  checkField('flags', header.flags, 0xff);
  checkField('gso_type', header.gsoType, 0xff);
  checkField('hdr_len', header.hdrLen, 0xffff);
  checkField('gso_size', header.gsoSize, 0xffff);
  checkField('csum_start', header.csumStart, 0xffff);
  checkField('csum_offset', header.csumOffset, 0xffff);
  checkField('num_buffers', header.numBuffers, 0xffff);
  const view = new DataView(target.buffer, target.byteOffset + offset, VNET_HEADER_SIZE);
  view.setUint8(0, header.flags);
  view.setUint8(1, header.gsoType);
  view.setUint16(2, header.hdrLen, true);
  view.setUint16(4, header.gsoSize, true);
  view.setUint16(6, header.csumStart, true);
  view.setUint16(8, header.csumOffset, true);
  view.setUint16(10, header.numBuffers, true);
  return target;
}

export function decodeVnetHeader(source: Uint8Array, offset = 0): VnetHeader {
  if (source.length - offset < VNET_HEADER_SIZE) {
    throw new VnetHeaderError(`a virtio_net_hdr needs ${VNET_HEADER_SIZE} bytes, got ${Math.max(0, source.length - offset)}`);
  }
  const view = new DataView(source.buffer, source.byteOffset + offset, VNET_HEADER_SIZE);
  return {
    flags: view.getUint8(0),
    gsoType: view.getUint8(1),
    hdrLen: view.getUint16(2, true),
    gsoSize: view.getUint16(4, true),
    csumStart: view.getUint16(6, true),
    csumOffset: view.getUint16(8, true),
    numBuffers: view.getUint16(10, true),
  };
}
