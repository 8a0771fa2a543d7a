/**
 * Saved state of a virtio-net device (the transport saves queues, features and status
 * itself): plain JSON, version 1, validated field by field on restore.
 *
 * Not saved: a packet read from the tap but waiting for receive buffers, and packets the
 * tap queued for sending; both are lost like packets on a wire, which TCP recovers.
 */
import { MacAddress } from '../../net/mac.js';
import type { VirtioDeviceState } from '../virtio/device.js';
import { TRANSPORT_FEATURES } from '../virtio/mmio-transport.js';
import { VirtioStateError } from '../virtio/errors.js';
import { StateReader } from '../virtio/state-fields.js';
import { netFeatureNames, tapOffloadsFor } from './offloads.js';

export interface NetCounters {
  rxPackets: number;
  rxBytes: number;
  /** Frames the guest's buffers could never hold, or received while the device was broken. */
  rxDropped: number;
  txPackets: number;
  txBytes: number;
  /** Frames too short or too long, or refused by the host. */
  txDropped: number;
  /** RARP announcement frames sent. */
  announcements: number;
}

export const COUNTER_NAMES = ['rxPackets', 'rxBytes', 'rxDropped', 'txPackets', 'txBytes', 'txDropped', 'announcements'] as const;

export function zeroCounters(): NetCounters {
  return { rxPackets: 0, rxBytes: 0, rxDropped: 0, txPackets: 0, txBytes: 0, txDropped: 0, announcements: 0 };
}

export interface VirtioNetState extends VirtioDeviceState {
  version: 1;
  /** The device's MAC, "52:54:00:12:34:56": a restore onto a NIC with another MAC is refused. */
  mac: string;
  /** Features negotiated with the driver (transport bits included), u64 as a decimal string; "0" before DRIVER_OK. */
  features: string;
  /** TUNSETOFFLOAD flags given to the tap for those features; re-applied to the tap on restore. */
  offloads: number;
  /** Receive chains popped and not yet filled, by head index, taken again on activation. */
  rxHeld: number[];
  counters: NetCounters;
}

export interface ExpectedNetState {
  mac: MacAddress;
  /** Device-specific features this device offers (a saved negotiation may not exceed them). */
  offered: bigint;
  rxQueueSize: number;
}

export interface ValidNetState {
  features: bigint;
  offloads: number;
  rxHeld: number[];
  counters: NetCounters;
}

export function validateNetState(raw: unknown, expect: ExpectedNetState): ValidNetState {
  const r = new StateReader('virtio-net state', VirtioStateError);
  const o = r.object(raw);
  r.version(o, 1);
  const mac = r.string(o.mac, 'mac');
  if (mac.toLowerCase() !== expect.mac.toString()) {
    throw new VirtioStateError(`virtio-net state field 'mac' is ${mac} but this NIC has MAC ${expect.mac}: give the NIC the same mac= as on the source`);
  }
  const features = r.u64(o.features, 'features');
  const missing = features & ~(expect.offered | TRANSPORT_FEATURES);
  if (missing) {
    throw new VirtioStateError(
      `virtio-net state field 'features' has ${netFeatureNames(missing)} (0x${missing.toString(16)}), which this host's tap does not offer: restore on a host whose kernel supports them`,
    );
  }
  const offloads = r.int(o.offloads, 'offloads', 0, 0xff);
  if (offloads !== tapOffloadsFor(features)) {
    r.fail('offloads', `0x${tapOffloadsFor(features).toString(16)} (what the saved features imply)`, offloads);
  }
  const maxHead = expect.rxQueueSize - 1;
  const rxHeld = r.array(o.rxHeld, 'rxHeld', expect.rxQueueSize).map((h, i) => r.int(h, `rxHeld[${i}]`, 0, maxHead));
  if (new Set(rxHeld).size !== rxHeld.length) throw new VirtioStateError("virtio-net state field 'rxHeld' lists a descriptor twice");
  const c = r.object(o.counters, 'counters');
  const counters = zeroCounters();
  for (const name of COUNTER_NAMES) counters[name] = r.int(c[name], `counters.${name}`, 0, Number.MAX_SAFE_INTEGER);
  return { features, offloads, rxHeld, counters };
}
