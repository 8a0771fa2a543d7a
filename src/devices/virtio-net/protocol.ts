/** virtio-net numbers (virtio 1.2 §5.1; Linux include/uapi/linux/virtio_net.h). */

/** Queue indices: one receive/transmit pair, no control queue (no VIRTIO_NET_F_CTRL_VQ, no MQ). */
export const RX_QUEUE = 0;
export const TX_QUEUE = 1;

// Feature bits (§5.1.3).
/** Device handles packets with partial checksum (guest transmit). */
export const VIRTIO_NET_F_CSUM = 1n << 0n;
/** Driver handles packets with partial checksum (guest receive). */
export const VIRTIO_NET_F_GUEST_CSUM = 1n << 1n;
export const VIRTIO_NET_F_MAC = 1n << 5n;
export const VIRTIO_NET_F_GUEST_TSO4 = 1n << 7n;
export const VIRTIO_NET_F_GUEST_TSO6 = 1n << 8n;
export const VIRTIO_NET_F_GUEST_UFO = 1n << 10n;
export const VIRTIO_NET_F_HOST_TSO4 = 1n << 11n;
export const VIRTIO_NET_F_HOST_TSO6 = 1n << 12n;
export const VIRTIO_NET_F_HOST_UFO = 1n << 14n;
export const VIRTIO_NET_F_MRG_RXBUF = 1n << 15n;
export const VIRTIO_NET_F_STATUS = 1n << 16n;

/** Printable names for diagnostics and state errors. */
export const NET_FEATURE_NAMES: ReadonlyMap<bigint, string> = new Map([
  [VIRTIO_NET_F_CSUM, 'CSUM'],
  [VIRTIO_NET_F_GUEST_CSUM, 'GUEST_CSUM'],
  [VIRTIO_NET_F_MAC, 'MAC'],
  [VIRTIO_NET_F_GUEST_TSO4, 'GUEST_TSO4'],
  [VIRTIO_NET_F_GUEST_TSO6, 'GUEST_TSO6'],
  [VIRTIO_NET_F_GUEST_UFO, 'GUEST_UFO'],
  [VIRTIO_NET_F_HOST_TSO4, 'HOST_TSO4'],
  [VIRTIO_NET_F_HOST_TSO6, 'HOST_TSO6'],
  [VIRTIO_NET_F_HOST_UFO, 'HOST_UFO'],
  [VIRTIO_NET_F_MRG_RXBUF, 'MRG_RXBUF'],
  [VIRTIO_NET_F_STATUS, 'STATUS'],
]);

// Config space (struct virtio_net_config): only the fields our features make valid.
export const CFG_MAC = 0; // u8[6]
export const CFG_STATUS = 6; // le16, valid with VIRTIO_NET_F_STATUS
export const CONFIG_SIZE = 8;

/** config.status bits. */
export const VIRTIO_NET_S_LINK_UP = 1;

/** Ethernet header: a transmitted frame shorter than this is not a frame. */
export const ETH_HEADER_BYTES = 14;
/**
 * Largest frame the guest may transmit: a 64 KiB GSO super-frame (IPv4 total length
 * limit) behind an Ethernet header with one VLAN tag. Anything longer is dropped.
 */
export const MAX_TX_FRAME_BYTES = 0xffff + ETH_HEADER_BYTES + 4;
