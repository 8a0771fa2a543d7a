/**
 * Plays the guest behind a tap in tests: answers ARP requests for its address and
 * ICMP echo requests, so `ping` from a client namespace succeeds only if frames and
 * vnet headers travel correctly both ways through our Tap.
 */
import { ArpOp, decodeArpFrame, encodeArpFrame, type ArpPacket } from '../../src/net/arp.js';
import { ETHERNET_HEADER_SIZE, EtherType, readEthernetHeader } from '../../src/net/ethernet.js';
import { internetChecksum } from '../../src/net/internet-checksum.js';
import { ipv4FromBytes } from '../../src/net/ipv4-address.js';
import type { MacAddress } from '../../src/net/mac.js';
import type { Tap } from '../../src/net/tap.js';
import { decodeVnetHeader, encodeVnetHeader, PLAIN_VNET_HEADER, VNET_HEADER_SIZE, type VnetHeader } from '../../src/net/vnet-header.js';

const IPPROTO_ICMP = 1;
const ICMP_ECHO_REPLY = 0;
const ICMP_ECHO_REQUEST = 8;

export class FakeGuest {
  readonly arpRequests: ArpPacket[] = [];
  readonly echoRequests: Uint8Array[] = [];
  readonly headers: VnetHeader[] = [];
  /** Frames whose IPv4 or ICMP checksum did not verify (offloads are off: the kernel must have filled them in). */
  badChecksums = 0;
  otherFrames = 0;

  constructor(
    private readonly tap: Tap,
    private readonly mac: MacAddress,
    private readonly ip: string,
  ) {}

  start(): void {
    this.tap.receive((packet) => this.onPacket(packet));
  }

  private onPacket(packet: Uint8Array): void {
    this.headers.push(decodeVnetHeader(packet));
    const frame = Uint8Array.from(packet.subarray(VNET_HEADER_SIZE));
    const arp = decodeArpFrame(frame);
    if (arp && arp.etherType === EtherType.ARP && arp.arp.op === ArpOp.REQUEST) {
      this.arpRequests.push(arp.arp);
      if (arp.arp.targetIp === this.ip) this.answerArp(arp.arp);
      return;
    }
    if (readEthernetHeader(frame).etherType === EtherType.IPV4 && this.isEchoRequestToUs(frame)) {
      this.echoRequests.push(frame);
      this.answerEcho(frame);
      return;
    }
    this.otherFrames++;
  }

  /** The reply goes out as two pieces (header, frame): the writev path. */
  private answerArp(request: ArpPacket): void {
    const own = this.mac.bytes;
    const reply = encodeArpFrame({
      destination: request.senderMac,
      source: own,
      etherType: EtherType.ARP,
      arp: { op: ArpOp.REPLY, senderMac: own, senderIp: this.ip, targetMac: request.senderMac, targetIp: request.senderIp },
    });
    this.tap.send([encodeVnetHeader(PLAIN_VNET_HEADER), reply]);
  }

  private isEchoRequestToUs(frame: Uint8Array): boolean {
    const ipStart = ETHERNET_HEADER_SIZE;
    const ihl = (frame[ipStart] & 0x0f) * 4;
    if (frame[ipStart] >> 4 !== 4 || frame[ipStart + 9] !== IPPROTO_ICMP) return false;
    if (ipv4FromBytes(frame, ipStart + 16) !== this.ip) return false;
    const totalLength = (frame[ipStart + 2] << 8) | frame[ipStart + 3];
    if (internetChecksum(frame, ipStart, ipStart + ihl) !== 0) this.badChecksums++;
    if (internetChecksum(frame, ipStart + ihl, ipStart + totalLength) !== 0) this.badChecksums++;
    return frame[ipStart + ihl] === ICMP_ECHO_REQUEST;
  }

  /** The reply goes out as one buffer (header + frame): the write path. */
  private answerEcho(request: Uint8Array): void {
    const packet = new Uint8Array(VNET_HEADER_SIZE + request.length);
    encodeVnetHeader(PLAIN_VNET_HEADER, packet);
    const reply = packet.subarray(VNET_HEADER_SIZE);
    reply.set(request);
    reply.set(request.subarray(6, 12), 0); // back to the sender
    this.mac.writeTo(reply, 6);
    const ipStart = ETHERNET_HEADER_SIZE;
    const ihl = (reply[ipStart] & 0x0f) * 4;
    const totalLength = (reply[ipStart + 2] << 8) | reply[ipStart + 3];
    reply.set(request.subarray(ipStart + 16, ipStart + 20), ipStart + 12); // source ← their destination (us)
    reply.set(request.subarray(ipStart + 12, ipStart + 16), ipStart + 16); // destination ← their source
    reply[ipStart + 8] = 64; // TTL
    reply[ipStart + 10] = reply[ipStart + 11] = 0;
    const ipSum = internetChecksum(reply, ipStart, ipStart + ihl);
    reply[ipStart + 10] = ipSum >> 8;
    reply[ipStart + 11] = ipSum & 0xff;
    const icmp = ipStart + ihl;
    reply[icmp] = ICMP_ECHO_REPLY;
    reply[icmp + 2] = reply[icmp + 3] = 0;
    const icmpSum = internetChecksum(reply, icmp, ipStart + totalLength);
    reply[icmp + 2] = icmpSum >> 8;
    reply[icmp + 3] = icmpSum & 0xff;
    this.tap.send(packet);
  }
}
