/**
 * Ethernet MAC addresses for NICs: parsing with validation, formatting, and
 * QEMU's default scheme (52:54:00:12:34:56 for the first NIC, +1 for each next one),
 * so a guest configured under QEMU keeps its MAC under cuju.
 */
import { BadMacError } from './errors.js';

const MAC_TEXT = /^[0-9a-f]{2}([:-])[0-9a-f]{2}(?:\1[0-9a-f]{2}){4}$/i;

/** QEMU gives NIC n the last byte 0x56 + n while that stays below 0xff. */
const QEMU_DEFAULT_PREFIX = [0x52, 0x54, 0x00, 0x12, 0x34] as const;
const QEMU_DEFAULT_FIRST_LAST_BYTE = 0x56;
export const QEMU_DEFAULT_MAC_COUNT = 0xff - QEMU_DEFAULT_FIRST_LAST_BYTE;

export class MacAddress {
  private readonly octets: Uint8Array;

  private constructor(octets: Uint8Array) {
    this.octets = octets;
  }

  /**
   * Parses `ae:ae:00:00:00:25` (or with `-` separators, as QEMU accepts).
   * A NIC's own address must be unicast: the multicast bit (bit 0 of the first
   * octet) would make every bridge flood the guest's traffic and the guest ignore
   * its own frames.
   */
  static parse(text: string): MacAddress {
    if (!MAC_TEXT.test(text)) {
      throw new BadMacError(`invalid MAC address '${text}': write six hex byte pairs separated by ':' (e.g. 52:54:00:12:34:56)`);
    }
    const octets = Uint8Array.from(text.split(/[:-]/), (pair) => parseInt(pair, 16));
    return MacAddress.fromBytes(octets, text);
  }

  /** From 6 bytes (e.g. a frame's source address or a device's config space). */
  static fromBytes(bytes: Uint8Array, shownAs?: string): MacAddress {
    if (bytes.length !== 6) throw new BadMacError(`a MAC address has 6 bytes, got ${bytes.length}`);
    const mac = new MacAddress(Uint8Array.from(bytes));
    if (mac.isMulticast) {
      throw new BadMacError(
        `MAC address '${shownAs ?? mac.toString()}' is a multicast address (bit 0 of the first byte is set): ` +
          'use an even first byte, e.g. 52:54:00:12:34:56',
      );
    }
    return mac;
  }

  /** QEMU's default MAC for the index-th NIC without `mac=`: 52:54:00:12:34:56 + index. */
  static qemuDefault(index: number): MacAddress {
    if (!Number.isInteger(index) || index < 0 || index >= QEMU_DEFAULT_MAC_COUNT) {
      throw new BadMacError(`no default MAC for NIC index ${index}: give the NIC an explicit mac= (defaults cover ${QEMU_DEFAULT_MAC_COUNT} NICs)`);
    }
    return new MacAddress(Uint8Array.from([...QEMU_DEFAULT_PREFIX, QEMU_DEFAULT_FIRST_LAST_BYTE + index]));
  }

  /** A copy of the 6 bytes, first octet first (the order on the wire and in virtio-net config). */
  get bytes(): Uint8Array {
    return Uint8Array.from(this.octets);
  }

  get isMulticast(): boolean {
    return (this.octets[0] & 1) === 1;
  }

  /** Copies the address into `target` at `offset` (building frames without an extra copy). */
  writeTo(target: Uint8Array, offset = 0): void {
    target.set(this.octets, offset);
  }

  equals(other: MacAddress): boolean {
    return this.octets.every((b, i) => b === other.octets[i]);
  }

  /** Lower-case, colon-separated, as QEMU prints it. */
  toString(): string {
    return Array.from(this.octets, (b) => b.toString(16).padStart(2, '0')).join(':');
  }
}

/** ff:ff:ff:ff:ff:ff as bytes (a frame's broadcast destination; not a valid NIC address). */
export const BROADCAST_MAC_BYTES: Readonly<Uint8Array> = new Uint8Array(6).fill(0xff);
