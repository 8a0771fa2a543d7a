/** A LeaseStore whose operations hang while frozen: hung shared storage, or a holder that does not run. */
import type { LeaseRecord } from '../../../src/ft/lease/lease-record.js';
import type { LeaseStore } from '../../../src/ft/lease/lease-store.js';

export class FreezableStore implements LeaseStore {
  private thaw?: Promise<void>;
  private release?: () => void;

  constructor(private readonly inner: LeaseStore) {}

  get where(): string {
    return this.inner.where;
  }

  freeze(): void {
    this.thaw = new Promise((resolve) => { this.release = resolve; });
  }

  unfreeze(): void {
    this.release?.();
    this.thaw = undefined;
  }

  async update(change: (current: LeaseRecord | undefined) => LeaseRecord | undefined): Promise<LeaseRecord | undefined> {
    if (this.thaw) await this.thaw;
    return this.inner.update(change);
  }

  async whileLocked(check: (current: LeaseRecord | undefined) => boolean, fn: () => Promise<void>): Promise<{ ran: boolean; record: LeaseRecord | undefined }> {
    if (this.thaw) await this.thaw;
    return this.inner.whileLocked(check, fn);
  }
}
