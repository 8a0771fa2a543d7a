/**
 * Boot allocates large short-lived buffers (a bzImage payload unpacks to ~17 MiB on
 * the host). V8 frees such external memory only at its next full GC, which an idle
 * VMM may not run for a long time, so the VMM asks for one after loading the guest.
 * Then the C heap is trimmed. This keeps the VMM's resident memory beyond guest RAM small (bench:boot reports it).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { native } from '../kvm/native.js';

let gc: (() => void) | undefined;

export function collectGarbage(): void {
  if (!gc) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as () => void;
  }
  gc();
  // Large Buffers live in glibc's heap, which keeps freed pages unless trimmed.
  native().mallocTrim();
}
