/**
 * One-pass restore from a byte stream (a migration socket): nothing is staged. Each
 * section's length limit and CRC are checked before any of its bytes is used; memory
 * runs go straight into the target's RAM (the target has never run, and the caller
 * discards it if this rejects), vCPU, VM and device state is decoded, validated and
 * kept; only once the SHA-256 trailer has verified is the machine state applied, in
 * applySnapshot's order. The checks are the file reader's (snapshot-parser.ts).
 *
 * The input is never ended or destroyed here: the caller owns the socket and closes it
 * when this rejects.
 */
import { Readable } from 'node:stream';
import { SnapshotError } from './errors.js';
import { applyMachineState, checkRunFits, writeMemoryRun, type RestoreTarget } from './restore.js';
import { parseSnapshot, type ExpectedMachine, type SnapshotContents } from './snapshot-parser.js';
import { StreamByteQueue } from './stream-byte-queue.js';

export interface StreamRestoreOptions {
  /** Called after each section with the bytes consumed so far (cumulative). */
  onProgress?(bytes: number): void;
  /** Aborting rejects the restore with a SnapshotError (the target is then half-written: discard it). */
  signal?: AbortSignal;
  /**
   * 'refuse' (default): the stream must end right after the trailer; more bytes are damage.
   * 'allow': the stream carries on (a migration protocol keeps talking); nothing past the
   * trailer is consumed except bytes already pulled in the same chunk, returned as `rest`.
   */
  trailing?: 'refuse' | 'allow';
  /** Names the stream in messages; 'migration stream' by default. */
  name?: string;
}

export interface ValidatedSnapshotSummary extends SnapshotContents {
  /** Memory sections written into the target's RAM. */
  memoryRuns: number;
  /** Bytes read past the trailer (trailing: 'allow' only; always empty otherwise). */
  rest: Uint8Array;
}

/** The stream's chunks, and how to let go of the stream without destroying it. */
function chunksOf(input: Readable | AsyncIterable<Uint8Array>): { chunks: AsyncIterator<unknown>; release(): void } {
  if (input instanceof Readable) {
    // Readable's default iterator destroys the stream on return(); the socket is the caller's.
    const chunks = input.iterator({ destroyOnReturn: false });
    // return() detaches the iterator's 'readable' listener, so the caller can read on.
    return { chunks, release: () => { chunks.return?.()?.catch(() => {}); } };
  }
  // A plain async iterable is left as it is: a generator can be iterated on by the caller.
  return { chunks: input[Symbol.asyncIterator](), release: () => {} };
}

export async function restoreFromStream(
  input: Readable | AsyncIterable<Uint8Array>,
  expected: ExpectedMachine,
  target: RestoreTarget,
  opts: StreamRestoreOptions = {},
): Promise<ValidatedSnapshotSummary> {
  const name = opts.name ?? 'migration stream';
  const { chunks, release } = chunksOf(input);
  const queue = new StreamByteQueue(chunks, name, opts.signal);
  try {
    let memoryRuns = 0;
    const contents = await parseSnapshot(queue, expected, {
      memory: (run) => {
        checkRunFits(target.memory, run);
        writeMemoryRun(target.memory, run, run.data);
        memoryRuns++;
      },
      sectionDone: opts.onProgress,
    });
    let rest: Uint8Array = new Uint8Array(0);
    if (opts.trailing === 'allow') {
      rest = queue.takeBuffered();
    } else if (!(await queue.atEnd())) {
      throw new SnapshotError(`${name} has bytes after the snapshot's end (at byte ${contents.size}): the stream is damaged or carries more than a snapshot (restore with { trailing: 'allow' } to keep reading it)`);
    }
    if (opts.signal?.aborted) throw new SnapshotError(`restoring from ${name} was aborted after ${contents.size} bytes, before the machine state was applied`);
    opts.onProgress?.(contents.size);
    applyMachineState(contents, target);
    return { ...contents, memoryRuns, rest };
  } finally {
    queue.dispose();
    release();
  }
}
