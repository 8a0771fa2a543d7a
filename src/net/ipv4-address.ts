/** Dotted-quad IPv4 addresses <-> the 4 network-order bytes in packets. */

export class BadIpv4AddressError extends Error {
  override readonly name = 'BadIpv4AddressError';
}

export function ipv4ToBytes(address: string): Uint8Array {
  const parts = address.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new BadIpv4AddressError(`invalid IPv4 address '${address}': write four numbers 0-255 separated by dots (e.g. 10.0.2.15)`);
  }
  return Uint8Array.from(parts, Number);
}

export function ipv4FromBytes(bytes: Uint8Array, offset = 0): string {
  if (bytes.length - offset < 4) throw new BadIpv4AddressError('an IPv4 address has 4 bytes');
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}
