/**
 * Checks shared by the gates: epoch numbers are non-negative safe integers that only go
 * forward within one protection session.
 */
import { OutputGateError } from './errors.js';

export function checkEpochNumber(epoch: number, what: string): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    throw new OutputGateError(`${what}: epoch ${epoch} is not a non-negative integer: pass the FT engine's epoch counter`);
  }
}

export function checkNextEpoch(current: number, next: number, what: string): void {
  checkEpochNumber(next, what);
  if (next <= current) {
    throw new OutputGateError(`${what}: epoch ${next} does not follow the current epoch ${current}: epochs must increase`);
  }
}

/** Only finished epochs can have been acknowledged: releasing the running one would let its output out early. */
export function checkReleasable(current: number, epoch: number, what: string): void {
  checkEpochNumber(epoch, what);
  if (epoch >= current) {
    throw new OutputGateError(`${what}(${epoch}): epoch ${current} is still running, so only epochs before it can have been acknowledged`);
  }
}
