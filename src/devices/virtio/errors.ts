/** Errors of the virtio core. */

/**
 * The guest put something malformed in a virtqueue (a descriptor loop, an address outside
 * RAM, a chain longer than the queue...). Never escapes a device: the transport catches it
 * and marks the device DEVICE_NEEDS_RESET, as §2.1.2 asks.
 */
export class VirtqueueError extends Error {
  override readonly name = 'VirtqueueError';
}

/** A saved virtio state that cannot be restored; the message names the field. */
export class VirtioStateError extends Error {
  override readonly name = 'VirtioStateError';
}
