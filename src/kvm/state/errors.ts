/**
 * Errors from capturing or restoring KVM state. Each names the ioctl KVM refused, so a
 * host whose KVM backend (e.g. kvm_pvm) lacks something is told exactly what.
 */
import { isNativeError } from '../native.js';

export class KvmStateError extends Error {
  override readonly name = 'KvmStateError';

  constructor(
    message: string,
    /** The ioctl that failed or is missing, e.g. 'KVM_GET_XSAVE'. */
    readonly ioctl: string,
    /** errno code ('EINVAL', ...) when the kernel refused the call. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export type StatePhase = 'capture' | 'restore';

/**
 * Runs one KVM call and turns a refusal into a KvmStateError that names the ioctl.
 * `what` says which state it concerns ("vCPU 1", "the VM").
 */
export function kvmCall<T>(ioctl: string, phase: StatePhase, what: string, call: () => T): T {
  try {
    return call();
  } catch (e) {
    if (isNativeError(e)) {
      const verb = phase === 'capture' ? 'captured' : 'restored';
      throw new KvmStateError(
        `${ioctl} failed with ${e.code} for ${what}: this host's KVM refused it, so the state cannot be ${verb}`,
        ioctl,
        e.code,
      );
    }
    throw e;
  }
}
