/**
 * Checksum and segmentation offloads between the guest and the tap. Guest transmit
 * offloads (CSUM, HOST_TSO4/6, HOST_UFO) need nothing from the tap: it accepts partial
 * checksums and GSO headers in what we write. Guest receive offloads (GUEST_CSUM,
 * GUEST_TSO4/6, GUEST_UFO) are what the tap may hand us, so after negotiation the tap
 * is told exactly those (TUNSETOFFLOAD), as QEMU's virtio_net_apply_guest_offloads does.
 */
import { TapError } from '../../net/errors.js';
import { TunOffload } from '../../net/tun-constants.js';
import type { NetBackend } from './backend.js';
import * as P from './protocol.js';

/** Offered whatever the tap supports. */
const BASE_FEATURES = P.VIRTIO_NET_F_MAC | P.VIRTIO_NET_F_STATUS | P.VIRTIO_NET_F_MRG_RXBUF
  | P.VIRTIO_NET_F_CSUM | P.VIRTIO_NET_F_GUEST_CSUM
  | P.VIRTIO_NET_F_GUEST_TSO4 | P.VIRTIO_NET_F_GUEST_TSO6 | P.VIRTIO_NET_F_HOST_TSO4 | P.VIRTIO_NET_F_HOST_TSO6;
const UFO_FEATURES = P.VIRTIO_NET_F_GUEST_UFO | P.VIRTIO_NET_F_HOST_UFO;

/** Device-specific features to offer, given whether the tap takes TUN_F_UFO. */
export function offeredNetFeatures(tapAcceptsUfo: boolean): bigint {
  return BASE_FEATURES | (tapAcceptsUfo ? UFO_FEATURES : 0n);
}

/**
 * TUNSETOFFLOAD flags for the negotiated features. The segmentation offloads depend on
 * GUEST_CSUM (§5.1.3.1), and the kernel refuses TSO/UFO flags without TUN_F_CSUM, so a
 * driver that (wrongly) accepted them without GUEST_CSUM gets fully finished packets.
 */
export function tapOffloadsFor(features: bigint): number {
  if (!(features & P.VIRTIO_NET_F_GUEST_CSUM)) return 0;
  let flags = TunOffload.CSUM;
  if (features & P.VIRTIO_NET_F_GUEST_TSO4) flags |= TunOffload.TSO4;
  if (features & P.VIRTIO_NET_F_GUEST_TSO6) flags |= TunOffload.TSO6;
  if (features & P.VIRTIO_NET_F_GUEST_UFO) flags |= TunOffload.UFO;
  return flags;
}

/**
 * Whether the tap accepts UDP fragmentation offload (QEMU's tap_probe_has_ufo): kernels
 * since 4.14 only emulate it and a future one may drop it. Leaves the tap's offloads at 0.
 */
export function tapAcceptsUfo(backend: NetBackend): boolean {
  try {
    backend.setOffloads(TunOffload.CSUM | TunOffload.UFO);
    return true;
  } catch (e) {
    if (e instanceof TapError) return false;
    throw e;
  } finally {
    backend.setOffloads(0);
  }
}

/** "CSUM|GUEST_TSO4" for messages. */
export function netFeatureNames(features: bigint): string {
  const names = [...P.NET_FEATURE_NAMES].filter(([bit]) => features & bit).map(([, name]) => name);
  return names.length > 0 ? names.join('|') : 'none';
}
