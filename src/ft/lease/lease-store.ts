/**
 * Where the lease lives. The file back end (file-lease-store.ts) is the default; an
 * external coordination service can implement the same interface later, as long as
 * update() is an atomic read-modify-write (a compare-and-set is enough).
 */
import type { LeaseRecord } from './lease-record.js';

export interface LeaseStore {
  /** Names the lease in messages, e.g. "the lease file /mnt/nfs/vm1.lease". */
  readonly where: string;
  /**
   * Reads the record and, when `change` returns a record, stores that one instead, all
   * atomically with respect to every other party's update(). Resolves with the record the
   * store holds afterwards (undefined: no lease yet). Rejects with LeaseUnreachableError
   * or LeaseFormatError; `change` is never called on a record that is not a lease.
   */
  update(change: (current: LeaseRecord | undefined) => LeaseRecord | undefined): Promise<LeaseRecord | undefined>;
  /**
   * Reads the record and, if `check` accepts it, runs `fn` while no other party's update()
   * can run (the shared-disk write fence: a primary's writes all happen before a backup's
   * winning contention, or not at all). Resolves with whether `fn` ran and the record read.
   */
  whileLocked(check: (current: LeaseRecord | undefined) => boolean, fn: () => Promise<void>): Promise<{ ran: boolean; record: LeaseRecord | undefined }>;
}
