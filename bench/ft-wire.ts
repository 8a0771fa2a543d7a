/**
 * node dist/bench/ft-wire.js — host-side costs of the FT channel's wire format (no KVM):
 *  1. stagePages, the part that runs while the vCPUs are paused: copying N dirty pages
 *     out of 256 MiB of RAM, scattered or contiguous, into a fresh or a reused buffer.
 *  2. Epochs of N scattered pages (plus one vCPU's, the VM's and two devices' state)
 *     encoded, sent over a loopback TCP socket, decoded and verified by the reader and
 *     applied to the backup's RAM, back to back: MiB/s of page data and epochs/s. Also
 *     encode alone and decode alone (from memory), to show where the time goes.
 * BENCH_FT_WIRE_SECONDS (default 1.5) is the time spent per measurement.
 */
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import { ChannelReader, ChannelWriter, applyPages, encodeMessage, localHello, stagePages, type EpochContent } from '../src/ft/wire/index.js';
import { PageBitmap } from '../src/memory/page-bitmap.js';
import type { ExpectedMachine } from '../src/snapshot/snapshot-parser.js';
import { StreamByteQueue } from '../src/snapshot/stream-byte-queue.js';
import { CAPS, vcpuState, vmState } from '../test/snapshot/fixtures.js';
import { createHash, createHmac } from 'node:crypto';
import { crc32Continue } from '../src/snapshot/crc.js';

const PAGE = 4096;
const MiB = 1024 * 1024;
const RAM_BYTES = 256 * MiB;
const SECONDS = Number(process.env.BENCH_FT_WIRE_SECONDS ?? 1.5);
const MACHINE: ExpectedMachine = {
  ramBytes: RAM_BYTES, vcpuCount: 1, capabilities: CAPS,
  devices: [{ kind: 'serial', id: 'serial0' }, { kind: 'virtio-blk', id: 'virtio-mmio.0' }],
};

function makeRam(): Buffer {
  const ram = Buffer.allocUnsafe(RAM_BYTES);
  const block = Buffer.alloc(PAGE);
  for (let i = 0; i < PAGE; i++) block[i] = (i * 151 + 7) & 0xff;
  for (let p = 0; p < RAM_BYTES / PAGE; p++) {
    block.writeUInt32LE(p, 0);
    block.copy(ram, p * PAGE);
  }
  return ram;
}

/** N distinct pages, spread over RAM at random (a seeded generator: the same set each run). */
function scattered(n: number): Uint32Array {
  const pages = new Set<number>();
  let x = 12345;
  while (pages.size < n) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    pages.add(x % (RAM_BYTES / PAGE));
  }
  return Uint32Array.from(pages).sort();
}

const contiguous = (n: number) => Uint32Array.from({ length: n }, (_, i) => 1024 + i);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timeUs(f: () => void, reps: number): { p50: number; min: number; max: number } {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    f();
    t.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  return { p50: median(t), min: Math.min(...t), max: Math.max(...t) };
}

function benchStage(ram: Buffer): void {
  console.log('stagePages (copy during the pause), µs p50 / min of 30:');
  for (const n of [1000, 10000]) {
    for (const [shape, pages] of [['scattered', scattered(n)], ['contiguous', contiguous(n)]] as const) {
      const pool = Buffer.alloc(n * PAGE, 1); // touched once, as a reused staging buffer is
      const reused = timeUs(() => stagePages(ram, pages, pool), 30);
      const fresh = timeUs(() => stagePages(ram, pages), 30);
      const bitmapAndCopy = timeUs(() => stagePages(ram, pagesBitmap(pages), pool), 30);
      console.log(`  ${String(n).padStart(6)} pages ${shape.padEnd(10)}: reused buffer ${reused.p50.toFixed(0)} / ${reused.min.toFixed(0)}; fresh buffer ${fresh.p50.toFixed(0)} / ${fresh.min.toFixed(0)}; from a PageBitmap (listing included) ${bitmapAndCopy.p50.toFixed(0)} / ${bitmapAndCopy.min.toFixed(0)}`);
    }
  }
}

function pagesBitmap(pages: Uint32Array): PageBitmap {
  return PageBitmap.fromPages(RAM_BYTES / PAGE, pages);
}

function epochOf(ram: Buffer, n: number, pool: Buffer, pages = scattered(n)): EpochContent {
  return {
    epoch: 1, releasedEpoch: 0, ...stagePages(ram, pages, pool),
    vcpus: [vcpuState(1)], vm: vmState(), devices: [{ ier: 1, lsr: 96 }, { queues: [{ avail: 17, used: 17 }] }],
    diskOps: [],
  };
}

/**
 * The backup end, in a worker thread as it would be another process: reads, verifies and
 * applies each epoch, acknowledges it, and exits on CANCEL.
 */
async function backupWorker(port: number): Promise<void> {
  const sock = connect(port, '127.0.0.1');
  await once(sock, 'connect');
  const writer = new ChannelWriter(sock);
  const reader = new ChannelReader(sock, { role: 'backup', machine: MACHINE, reusePageBuffer: true });
  const ram = Buffer.alloc(RAM_BYTES);
  await writer.send({ type: 'hello', ...localHello('backup', MACHINE, 5000) });
  for await (const m of reader) {
    if (m.type === 'epoch') {
      applyPages(m.content, ram);
      await writer.send({ type: 'ack', epoch: m.content.epoch });
    }
    if (m.type === 'cancel') break;
  }
  sock.end();
}

/**
 * Back-to-back epochs primary → backup over loopback, until the last ACK. The backup runs
 * in a worker thread (as another process would), or in this thread (`inline`: the sum of
 * both ends' CPU cost, without the scheduler's wake-up latency between two threads).
 */
async function benchLoopback(ram: Buffer, n: number, inline: boolean): Promise<void> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const worker = inline ? undefined : new Worker(new URL(import.meta.url), { workerData: { port } });
  const backupDone = inline ? backupWorker(port) : undefined;
  const [sock] = (await once(server, 'connection')) as [Socket];
  server.close();
  const writer = new ChannelWriter(sock);
  const reader = new ChannelReader(sock, { role: 'primary', machine: MACHINE });
  const template = epochOf(ram, n, Buffer.allocUnsafe(n * PAGE));
  await writer.send({ type: 'hello', ...localHello('primary', MACHINE, 5000) });
  if ((await reader.next())?.type !== 'hello') throw new Error('no HELLO from the backup');
  let acked = 0;
  const acks = (async () => {
    for await (const m of reader) if (m.type === 'ack') acked = m.epoch;
  })();
  const t0 = performance.now();
  let sent = 0;
  while (performance.now() - t0 < SECONDS * 1000) {
    sent++;
    await writer.send({ type: 'epoch', content: { ...template, epoch: sent, releasedEpoch: Math.max(0, acked) } });
  }
  while (acked < sent) await new Promise((r) => setTimeout(r, 0.2));
  const seconds = (performance.now() - t0) / 1000;
  await writer.send({ type: 'cancel', reason: 'done' });
  await acks;
  await (worker ? once(worker, 'exit') : backupDone);
  const pageMiB = (sent * n * PAGE) / MiB;
  const wire = encodeMessage({ type: 'epoch', content: template }, 1).reduce((sum, c) => sum + c.length, 0) / 1024;
  console.log(`  ${String(n).padStart(6)} pages, backup ${inline ? 'inline' : 'thread'}: ${(pageMiB / seconds).toFixed(0).padStart(5)} MiB/s of pages, ${(sent / seconds).toFixed(0).padStart(5)} epochs/s, ${(seconds / sent * 1000).toFixed(2)} ms/epoch (${sent} epochs, ${wire.toFixed(0)} KiB each on the wire)`);
}

/** Encode alone, and decode+verify alone from the encoded bytes in memory. */
async function benchSplit(ram: Buffer, n: number): Promise<void> {
  const content = epochOf(ram, n, Buffer.allocUnsafe(n * PAGE));
  const reps = Math.max(5, Math.min(2000, Math.floor(200_000 / n)));
  const enc = timeUs(() => encodeMessage({ type: 'epoch', content }, 1), reps);
  const helloBytes = encodeMessage({ type: 'hello', ...localHello('primary', MACHINE, 5000) }, 0);
  const chunks = encodeMessage({ type: 'epoch', content }, 1);
  // Re-chunk into 64 KiB pieces, as a socket delivers them.
  const joined = Buffer.concat([...helloBytes, ...chunks]);
  const pieces: Buffer[] = [];
  for (let at = 0; at < joined.length; at += 65536) pieces.push(joined.subarray(at, at + 65536));
  const decode = async (reusePageBuffer: boolean) => {
    const dec: number[] = [];
    let reused: Uint8Array | undefined;
    for (let i = 0; i < reps; i++) {
      async function* gen() { yield* pieces; }
      const reader = new ChannelReader(new StreamByteQueue(gen(), 'bench'), { role: 'backup', machine: MACHINE, reusePageBuffer });
      // The reader's own buffer, carried over as a long-lived reader would keep it.
      if (reused) (reader as unknown as { pageBuffer: Uint8Array }).pageBuffer = reused;
      await reader.next();
      const t0 = process.hrtime.bigint();
      const m = await reader.next();
      dec.push(Number(process.hrtime.bigint() - t0) / 1000);
      if (reusePageBuffer && m?.type === 'epoch') reused = Buffer.from(m.content.pageData.buffer);
    }
    return median(dec);
  };
  const fresh = await decode(false);
  const reused = await decode(true);
  const mib = (n * PAGE) / MiB;
  const rate = (us: number) => `${us.toFixed(0)} µs (${(mib / (us / 1e6)).toFixed(0)} MiB/s)`;
  console.log(`  ${String(n).padStart(6)} pages: encode ${rate(enc.p50)}; decode+verify ${rate(fresh)}, with reusePageBuffer ${rate(reused)}`);
}

/**
 * Integrity and authentication costs per MiB (CRC32, SHA-256, HMAC-SHA256 over 4 MiB),
 * and what -ft-key adds to an epoch: the frame tag is an HMAC over the header and the
 * epoch's own SHA-256 (52 bytes), not over its bytes.
 */
function benchHashes(ram: Buffer): void {
  const data = ram.subarray(0, 4 * MiB);
  const perMiB = (f: () => void) => timeUs(f, 20).p50 / 4;
  const crc = perMiB(() => crc32Continue(data, 0));
  const sha = perMiB(() => createHash('sha256').update(data).digest());
  const key = Buffer.alloc(32, 7);
  const hmac = perMiB(() => createHmac('sha256', key).update(data).digest());
  const tag = timeUs(() => createHmac('sha256', key).update(data.subarray(0, 20)).update(data.subarray(20, 52)).digest(), 2000).p50;
  console.log(`per MiB (p50 of 20 × 4 MiB): CRC32 ${crc.toFixed(0)} µs, SHA-256 ${sha.toFixed(0)} µs, HMAC-SHA256 ${hmac.toFixed(0)} µs; one -ft-key frame tag (HMAC of 52 bytes) ${tag.toFixed(1)} µs`);
  const content = epochOf(ram, 1000, Buffer.allocUnsafe(1000 * PAGE));
  const plain = timeUs(() => encodeMessage({ type: 'epoch', content }, 1), 200).p50;
  const tagged = timeUs(() => encodeMessage({ type: 'epoch', content }, 1, key), 200).p50;
  console.log(`  encode a 1000-page epoch: ${plain.toFixed(0)} µs, with the -ft-key tag ${tagged.toFixed(0)} µs`);
}

async function main(): Promise<void> {
  if (!isMainThread) return backupWorker((workerData as { port: number }).port);
  const ram = makeRam();
  benchHashes(ram);
  if (process.env.BENCH_FT_WIRE_HASHES_ONLY) return;
  benchStage(ram);
  console.log('encode / decode alone (in memory, p50):');
  for (const n of [100, 1000, 10000]) await benchSplit(ram, n);
  console.log(`epochs over loopback TCP to a backup thread (encode, send, decode, verify CRCs + SHA-256, apply, ACK), ${SECONDS} s each:`);
  for (const n of [100, 1000, 10000]) {
    await benchLoopback(ram, n, false);
    await benchLoopback(ram, n, true);
  }
}

await main();
