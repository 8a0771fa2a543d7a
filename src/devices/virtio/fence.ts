/**
 * A full memory barrier between the VMM thread and the vCPUs. The rings live in guest RAM
 * that vCPU threads write concurrently; x86 keeps stores in order and loads in order, but a
 * load may pass an earlier store. The event-index protocol (§2.7.10) needs "publish the used
 * index, then read used_event" and "publish avail_event, then re-read avail idx" in that
 * order, so those points call `memoryFence()`. An Atomics read-modify-write on a shared
 * buffer is a locked instruction on x86, which orders everything before it.
 */
const fenceCell = new Int32Array(new SharedArrayBuffer(4));

export function memoryFence(): void {
  Atomics.add(fenceCell, 0, 0);
}
