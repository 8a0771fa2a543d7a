/**
 * The bound on how long this process may hold the lease file's lock. A VMM frozen while
 * it holds the lock (SIGSTOP, a host that stalls it) would keep a backup from ever
 * taking the lease, and a fence that waits for the frozen process to let go is no fence
 * (docs/ARCHITECTURE.md, "Split brain"). So every locked section arms a kernel timer that
 * SIGKILLs this process when the section outlives the deadline: the kernel delivers it
 * even to a stopped process, whose files then close and whose lock drops, and a process
 * that is dead can write nothing later. This is sanlock's rule (a lease holder that
 * cannot keep its promise is killed) with the kernel as the watchdog.
 */
import { native } from '../../kvm/native.js';

export interface HoldDeadline {
  /** Starts the deadline of one locked section; the returned function ends it in time. */
  arm(ms: number): () => void;
}

/** The addon's kernel timer (SIGKILL on expiry), or undefined when the addon is not built. */
export function nativeHoldDeadline(): HoldDeadline | undefined {
  try {
    const addon = native();
    return {
      arm(ms) {
        const id = addon.killTimerArm(Math.max(1, Math.ceil(ms)));
        return () => addon.killTimerDisarm(id);
      },
    };
  } catch {
    return undefined;
  }
}
