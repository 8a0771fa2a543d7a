/**
 * The split-brain hook of the output gates: a synchronous question asked at the moment a
 * packet or a shared-disk write would leave this VMM (not when it is released, so output
 * released but still queued is held too once the answer turns no). With split-brain
 * protection on it is FtLease.mayEmit(acked); without, everything may leave.
 *
 * `acked` is true while the gate is in protected (hold) mode: then only output of
 * acknowledged epochs (or from before the pairing) ever reaches the question, and that
 * output is in the backup's state, so it may leave whoever runs the VM later. In pass
 * mode (unprotected, or everything held when protection ended) it is false: that output
 * may leave only from the VMM that won the lease (docs/ARCHITECTURE.md, "Split brain").
 */
export type OutputPermit = (acked: boolean) => boolean;

export const ALWAYS_PERMITTED: OutputPermit = () => true;

/**
 * Shared-image writes of acknowledged epochs are not idempotent: one landing late, after a
 * backup took over and its guest wrote the same blocks, would undo that write. The fence
 * runs such a write only while this VMM still holds the pairing's lease, with the lease
 * locked (FtLease.fenced): resolves true once `write` ran, false when it may never run
 * (fenced); rejects when the lease cannot be reached (the write stays held, a later
 * release retries).
 */
export type OutputFence = (write: () => Promise<void>) => Promise<boolean>;

export interface OutputPermitTarget {
  setOutputPermit(permit: OutputPermit): void;
  /** Shared-image gates only: the fence for acknowledged writes in protected mode. */
  setOutputFence?(fence: OutputFence): void;
  /** The permit may have turned true (the lease was won or renewed): let held output go. */
  permitChanged(): void;
}
