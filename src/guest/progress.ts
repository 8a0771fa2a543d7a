/**
 * Progress lines of the guest builder. They go to stderr so that stdout stays free
 * for anything a caller wants to parse, and they carry the elapsed time because the
 * kernel build takes minutes.
 */
const started = Date.now();

export function progress(message: string): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(0).padStart(4);
  process.stderr.write(`[guest ${seconds}s] ${message}\n`);
}
