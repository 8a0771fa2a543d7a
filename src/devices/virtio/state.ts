/**
 * Saved state of a virtio-mmio transport and its queues: plain JSON, validated field by
 * field on restore (VirtioStateError names the field). The device's own state rides in
 * `device` and is validated by the device.
 */
import { VIRTQ_MAX_SIZE } from './constants.js';
import { VirtioStateError } from './errors.js';
import type { VirtqueueState } from './queue.js';
import { StateReader } from './state-fields.js';

export const VIRTIO_MMIO_STATE_VERSION = 1;

export interface VirtioMmioState {
  version: 1;
  deviceId: number;
  status: number;
  deviceFeaturesSel: number;
  driverFeaturesSel: number;
  /** Features the driver wrote, decimal string of a u64. */
  driverFeatures: string;
  queueSel: number;
  interruptStatus: number;
  configGeneration: number;
  queues: VirtqueueState[];
  device: unknown;
}

const U32 = 0xffffffff;
const U16 = 0xffff;

export function validateVirtioMmioState(raw: unknown, expect: { deviceId: number; queueMaxSizes: readonly number[] }): VirtioMmioState & { driverFeaturesValue: bigint } {
  const r = new StateReader('virtio-mmio state', VirtioStateError);
  const o = r.object(raw);
  r.version(o, VIRTIO_MMIO_STATE_VERSION);
  const deviceId = r.int(o.deviceId, 'deviceId', 0, U32);
  if (deviceId !== expect.deviceId) {
    throw new VirtioStateError(`virtio-mmio state field 'deviceId' is ${deviceId} but the device here has ID ${expect.deviceId}`);
  }
  const queuesRaw = r.array(o.queues, 'queues', VIRTQ_MAX_SIZE);
  if (queuesRaw.length !== expect.queueMaxSizes.length) {
    throw new VirtioStateError(`virtio-mmio state field 'queues' has ${queuesRaw.length} queues but the device has ${expect.queueMaxSizes.length}`);
  }
  const queues = queuesRaw.map((q, i): VirtqueueState => {
    const f = `queues[${i}]`;
    const qo = r.object(q, f);
    return {
      size: r.int(qo.size, `${f}.size`, 0, expect.queueMaxSizes[i]),
      ready: r.bool(qo.ready, `${f}.ready`),
      descLow: r.int(qo.descLow, `${f}.descLow`, 0, U32),
      descHigh: r.int(qo.descHigh, `${f}.descHigh`, 0, U32),
      driverLow: r.int(qo.driverLow, `${f}.driverLow`, 0, U32),
      driverHigh: r.int(qo.driverHigh, `${f}.driverHigh`, 0, U32),
      deviceLow: r.int(qo.deviceLow, `${f}.deviceLow`, 0, U32),
      deviceHigh: r.int(qo.deviceHigh, `${f}.deviceHigh`, 0, U32),
      nextAvail: r.int(qo.nextAvail, `${f}.nextAvail`, 0, U16),
      nextUsed: r.int(qo.nextUsed, `${f}.nextUsed`, 0, U16),
      lastSignalledUsed: r.int(qo.lastSignalledUsed, `${f}.lastSignalledUsed`, 0, U16),
    };
  });
  const driverFeaturesValue = r.u64(o.driverFeatures, 'driverFeatures');
  return {
    version: 1,
    deviceId,
    status: r.int(o.status, 'status', 0, 0xff),
    deviceFeaturesSel: r.int(o.deviceFeaturesSel, 'deviceFeaturesSel', 0, U32),
    driverFeaturesSel: r.int(o.driverFeaturesSel, 'driverFeaturesSel', 0, U32),
    driverFeatures: o.driverFeatures as string,
    driverFeaturesValue,
    queueSel: r.int(o.queueSel, 'queueSel', 0, U32),
    interruptStatus: r.int(o.interruptStatus, 'interruptStatus', 0, 3),
    configGeneration: r.int(o.configGeneration, 'configGeneration', 0, U32),
    queues,
    device: o.device,
  };
}
