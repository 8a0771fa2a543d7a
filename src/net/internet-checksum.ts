/**
 * The Internet checksum (RFC 1071): ones' complement of the ones' complement sum of
 * 16-bit big-endian words, used by IPv4, ICMP, TCP and UDP (and by a NIC completing a
 * partial checksum at csum_start/csum_offset).
 */

/** Ones' complement sum of bytes[start, end) folded to 16 bits, added to `initial` (a pseudo-header sum). */
export function onesComplementSum(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8; // an odd last byte is padded with a zero byte
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The checksum to store in a header whose checksum field is zero while summing. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  return ~onesComplementSum(bytes, start, end, initial) & 0xffff;
}
