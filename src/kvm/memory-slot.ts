/**
 * What KVM_SET_USER_MEMORY_REGION was told about one memory slot. Changing only
 * `flags` (e.g. turning dirty logging on or off) means re-registering the slot with
 * exactly these values, so whoever creates a slot keeps and exposes this record.
 */
export interface MemorySlot {
  /** KVM slot id (bits 16-31 would select an address space; always 0 here). */
  readonly slot: number;
  /** Guest-physical start address. */
  readonly gpa: number;
  /** Size in bytes, a multiple of the 4 KiB page size. */
  readonly size: number;
  /** Host virtual address of the mapping backing the slot. */
  readonly hostAddress: bigint;
  /** KVM_MEM_* flags the slot was registered with (without dirty logging). */
  readonly flags: number;
}
