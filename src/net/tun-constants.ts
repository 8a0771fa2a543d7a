/**
 * From <linux/if_tun.h> (x86-64), printed by a C program including the header:
 * the ioctl numbers are _IOW('T', n, int) / _IOR('T', n, unsigned int).
 */

/** TUNSETIFF: attach to (or create) the interface named in a struct ifreq. */
export const TUNSETIFF = 0x400454ca;
/** TUNSETPERSIST: keep the interface after the last fd closes (integer argument). */
export const TUNSETPERSIST = 0x400454cb;
/** TUNSETOFFLOAD: which offloads (TUN_F_*) the reader can take (integer argument). */
export const TUNSETOFFLOAD = 0x400454d0;
/** TUNGETIFF: reads back name and flags into a struct ifreq. */
export const TUNGETIFF = 0x800454d2;
/** TUNSETVNETHDRSZ: size of the virtio-net header in front of each frame (pointer to int). */
export const TUNSETVNETHDRSZ = 0x400454d8;

/** ifreq.ifr_flags */
export const IFF_TAP = 0x0002;
export const IFF_NO_PI = 0x1000;
export const IFF_VNET_HDR = 0x4000;

/** struct ifreq: char ifr_name[IFNAMSIZ = 16] then a union of 24 bytes (ifr_flags is a short at offset 16). */
export const IFREQ_SIZE = 40;
export const IFNAMSIZ = 16;

/** TUNSETOFFLOAD flags: what the guest's virtio-net driver negotiated it can receive. */
export const TunOffload = {
  /** Partial checksums (VIRTIO_NET_F_GUEST_CSUM). */
  CSUM: 0x01,
  /** TCPv4 segmentation (VIRTIO_NET_F_GUEST_TSO4). */
  TSO4: 0x02,
  /** TCPv6 segmentation (VIRTIO_NET_F_GUEST_TSO6). */
  TSO6: 0x04,
  /** TSO with ECN (VIRTIO_NET_F_GUEST_ECN). */
  TSO_ECN: 0x08,
  /** UDP fragmentation offload (VIRTIO_NET_F_GUEST_UFO). */
  UFO: 0x10,
  /** UDP segmentation, kernel 6.2+ (VIRTIO_NET_F_GUEST_USO4/6). */
  USO4: 0x20,
  USO6: 0x40,
} as const;

/** open(2) flags on x86-64 Linux. */
export const O_RDWR = 0o2;
export const O_NONBLOCK = 0o4000;
