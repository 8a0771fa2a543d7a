/** Ethernet II framing: the 14-byte header every frame on the tap starts with. */

export const ETHERNET_HEADER_SIZE = 14;
/** Smallest frame without the FCS; shorter frames are padded with zeros. */
export const ETHERNET_MIN_FRAME_SIZE = 60;

export const EtherType = {
  IPV4: 0x0800,
  ARP: 0x0806,
  RARP: 0x8035,
  VLAN: 0x8100,
  IPV6: 0x86dd,
} as const;

export interface EthernetHeader {
  destination: Uint8Array;
  source: Uint8Array;
  etherType: number;
}

export class FrameError extends Error {
  override readonly name = 'FrameError';
}

export function readEthernetHeader(frame: Uint8Array): EthernetHeader {
  if (frame.length < ETHERNET_HEADER_SIZE) throw new FrameError(`an Ethernet frame needs ${ETHERNET_HEADER_SIZE} bytes, got ${frame.length}`);
  return {
    destination: frame.slice(0, 6),
    source: frame.slice(6, 12),
    etherType: (frame[12] << 8) | frame[13],
  };
}

export function writeEthernetHeader(frame: Uint8Array, header: EthernetHeader): void {
  if (header.destination.length !== 6 || header.source.length !== 6) throw new FrameError('Ethernet addresses have 6 bytes');
  frame.set(header.destination, 0);
  frame.set(header.source, 6);
  frame[12] = header.etherType >> 8;
  frame[13] = header.etherType & 0xff;
}
