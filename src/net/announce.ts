/**
 * Announcing a guest's MAC on the network after it moved (migration, failover), so
 * switches update their forwarding tables at once instead of after the old entry ages out.
 * QEMU broadcasts RARP frames (qemu_announce_self); a gratuitous ARP additionally
 * refreshes neighbours' ARP caches when the guest's IPv4 address is known.
 */
import { ArpOp, encodeArpFrame } from './arp.js';
import { EtherType } from './ethernet.js';
import { BROADCAST_MAC_BYTES, type MacAddress } from './mac.js';

const ZERO_MAC = new Uint8Array(6);

export interface AnnounceTiming {
  rounds: number;
  initialMs: number;
  stepMs: number;
  maxMs: number;
}

/** QEMU's announce timing defaults (-global migration.announce-*): 5 rounds, 50 ms then +100 ms each, at most 550 ms apart. */
export const QEMU_ANNOUNCE_TIMING: Readonly<AnnounceTiming> = Object.freeze({ rounds: 5, initialMs: 50, stepMs: 100, maxMs: 550 });

/**
 * The delay before each announce round after the first one is sent at once:
 * initial, initial+step, ... capped at max (QEMU's qemu_announce_timer_step).
 */
export function announceDelays(timing: Readonly<AnnounceTiming> = QEMU_ANNOUNCE_TIMING): number[] {
  return Array.from({ length: Math.max(0, timing.rounds - 1) }, (_, i) => Math.min(timing.initialMs + i * timing.stepMs, timing.maxMs));
}

/**
 * Byte for byte QEMU's announce_self_create(): broadcast RARP "request reverse" with
 * the guest's MAC as source, sender and target hardware address, zero protocol
 * addresses, padded to 60 bytes.
 */
export function rarpAnnounceFrame(mac: MacAddress): Uint8Array {
  const own = mac.bytes;
  return encodeArpFrame({
    destination: BROADCAST_MAC_BYTES,
    source: own,
    etherType: EtherType.RARP,
    arp: { op: ArpOp.REVERSE_REQUEST, senderMac: own, senderIp: '0.0.0.0', targetMac: own, targetIp: '0.0.0.0' },
  });
}

/** Gratuitous ARP request: "who has ip? tell ip" from the guest's MAC, broadcast. */
export function gratuitousArpFrame(mac: MacAddress, ip: string): Uint8Array {
  const own = mac.bytes;
  return encodeArpFrame({
    destination: BROADCAST_MAC_BYTES,
    source: own,
    etherType: EtherType.ARP,
    arp: { op: ArpOp.REQUEST, senderMac: own, senderIp: ip, targetMac: ZERO_MAC, targetIp: ip },
  });
}
