/**
 * ARP and RARP for Ethernet/IPv4 (RFC 826, RFC 903): building frames (gratuitous
 * ARP and RARP announcements after a migration or failover) and reading them.
 */
import { ETHERNET_HEADER_SIZE, ETHERNET_MIN_FRAME_SIZE, EtherType, readEthernetHeader, writeEthernetHeader } from './ethernet.js';
import { ipv4FromBytes, ipv4ToBytes } from './ipv4-address.js';

export const ArpOp = {
  REQUEST: 1,
  REPLY: 2,
  /** RARP "request reverse": what QEMU broadcasts to announce a guest's MAC. */
  REVERSE_REQUEST: 3,
  REVERSE_REPLY: 4,
} as const;

const HTYPE_ETHERNET = 1;
const ARP_PAYLOAD_SIZE = 28;

export interface ArpPacket {
  op: number;
  senderMac: Uint8Array;
  senderIp: string;
  targetMac: Uint8Array;
  targetIp: string;
}

export interface ArpFrame {
  /** Ethernet destination (broadcast for requests and announcements). */
  destination: Uint8Array;
  /** Ethernet source. */
  source: Uint8Array;
  /** EtherType.ARP, or EtherType.RARP for reverse ARP. */
  etherType: number;
  arp: ArpPacket;
}

/** A padded 60-byte frame. */
export function encodeArpFrame(frame: ArpFrame): Uint8Array {
  const bytes = new Uint8Array(ETHERNET_MIN_FRAME_SIZE);
  writeEthernetHeader(bytes, frame);
  const view = new DataView(bytes.buffer, ETHERNET_HEADER_SIZE, ARP_PAYLOAD_SIZE);
  view.setUint16(0, HTYPE_ETHERNET);
  view.setUint16(2, EtherType.IPV4);
  view.setUint8(4, 6);
  view.setUint8(5, 4);
  view.setUint16(6, frame.arp.op);
  bytes.set(frame.arp.senderMac, ETHERNET_HEADER_SIZE + 8);
  bytes.set(ipv4ToBytes(frame.arp.senderIp), ETHERNET_HEADER_SIZE + 14);
  bytes.set(frame.arp.targetMac, ETHERNET_HEADER_SIZE + 18);
  bytes.set(ipv4ToBytes(frame.arp.targetIp), ETHERNET_HEADER_SIZE + 24);
  return bytes;
}

/** The ARP/RARP packet in an Ethernet frame, or undefined when it is not Ethernet/IPv4 (R)ARP. */
export function decodeArpFrame(frame: Uint8Array): ArpFrame | undefined {
  if (frame.length < ETHERNET_HEADER_SIZE + ARP_PAYLOAD_SIZE) return undefined;
  const header = readEthernetHeader(frame);
  if (header.etherType !== EtherType.ARP && header.etherType !== EtherType.RARP) return undefined;
  const view = new DataView(frame.buffer, frame.byteOffset + ETHERNET_HEADER_SIZE, ARP_PAYLOAD_SIZE);
  if (view.getUint16(0) !== HTYPE_ETHERNET || view.getUint16(2) !== EtherType.IPV4) return undefined;
  if (view.getUint8(4) !== 6 || view.getUint8(5) !== 4) return undefined;
  const at = (offset: number) => ETHERNET_HEADER_SIZE + offset;
  return {
    ...header,
    arp: {
      op: view.getUint16(6),
      senderMac: frame.slice(at(8), at(14)),
      senderIp: ipv4FromBytes(frame, at(14)),
      targetMac: frame.slice(at(18), at(24)),
      targetIp: ipv4FromBytes(frame, at(24)),
    },
  };
}
