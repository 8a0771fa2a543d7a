/**
 * node dist/bench/stream-restore.js — one-pass restore throughput (restoreFromStream)
 * of a snapshot whose RAM is all non-zero (every page travels), compared with the
 * two-pass restore from a buffer and with the cost of the checks alone (SHA-256 + CRC32).
 *
 *   passthrough: the snapshot fed through a PassThrough in 64 KiB chunks, same thread;
 *   tcp loopback: sent from a worker thread over a 127.0.0.1 socket (the migration path).
 *
 * Env: BENCH_STREAM_MIB (RAM size, 256), BENCH_STREAM_RUNS (3). No KVM needed: the
 * target is guest RAM in a buffer and VM/vCPU/device state is decoded, not applied.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { crc32 } from 'node:zlib';
import { GuestMemory } from '../src/memory/guest-memory.js';
import { BufferSource } from '../src/snapshot/byte-source.js';
import { restoreSnapshot } from '../src/snapshot/machine-snapshot.js';
import type { MachineDescription } from '../src/snapshot/machine-description.js';
import type { RestoreTarget } from '../src/snapshot/restore.js';
import { restoreFromStream } from '../src/snapshot/stream-restore.js';
import { SnapshotWriter } from '../src/snapshot/writer.js';
import { CAPS, vcpuState, vmState } from '../test/snapshot/fixtures.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

function envInt(name: string, dflt: number): number {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isInteger(v) || v <= 0) throw new Error(`${name} must be a positive integer, got '${process.env[name]}'`);
  return v;
}

/** Worker side of the TCP mode: send the snapshot bytes to the port, then close. */
async function sender(): Promise<void> {
  const { port, bytes } = workerData as { port: number; bytes: SharedArrayBuffer };
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.end(Buffer.from(bytes));
  await once(socket, 'close');
  parentPort!.postMessage('sent');
}

class Collector extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk);
    cb();
  }
}

async function buildSnapshot(machine: MachineDescription): Promise<Buffer> {
  const ram = new Uint8Array(machine.ramBytes);
  for (let off = 0; off < ram.length; off += 64 * MiB) randomFillSync(ram, off, Math.min(64 * MiB, ram.length - off));
  const out = new Collector();
  const w = new SnapshotWriter(out, machine);
  await w.writeRam(GuestMemory.fromBuffer(ram));
  for (let i = 0; i < machine.vcpuCount; i++) await w.writeVcpu(i, vcpuState(i));
  await w.writeVm(vmState());
  await w.finish();
  return Buffer.concat(out.chunks);
}

function target(ramBytes: number): RestoreTarget {
  return { memory: GuestMemory.fromBuffer(new Uint8Array(ramBytes)), restoreVm() {}, restoreVcpu() {}, restoreDevice() {} };
}

function feed(bytes: Buffer): PassThrough {
  const pt = new PassThrough();
  void (async () => {
    for (let off = 0; off < bytes.length; off += CHUNK) {
      if (!pt.write(bytes.subarray(off, off + CHUNK))) await once(pt, 'drain');
    }
    pt.end();
  })();
  return pt;
}

async function overTcp(bytes: Buffer, machine: MachineDescription, into: RestoreTarget): Promise<void> {
  const shared = new SharedArrayBuffer(bytes.length);
  new Uint8Array(shared).set(bytes);
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const worker = new Worker(new URL(import.meta.url), { workerData: { port: (server.address() as AddressInfo).port, bytes: shared } });
  const [socket] = await once(server, 'connection');
  try {
    const start = process.hrtime.bigint();
    await restoreFromStream(socket, { ...machine, capabilities: CAPS }, into);
    report('tcp loopback', bytes.length, start);
  } finally {
    socket.destroy();
    server.close();
    await worker.terminate();
  }
}

const results = new Map<string, number[]>();

function report(mode: string, size: number, start: bigint): void {
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const rate = size / MiB / seconds;
  results.set(mode, [...(results.get(mode) ?? []), rate]);
  console.log(`  ${mode.padEnd(24)} ${(seconds * 1000).toFixed(0).padStart(6)} ms  ${rate.toFixed(0).padStart(6)} MiB/s`);
}

async function main(): Promise<void> {
  const ramMiB = envInt('BENCH_STREAM_MIB', 256);
  const runs = envInt('BENCH_STREAM_RUNS', 3);
  const machine: MachineDescription = { ramBytes: ramMiB * MiB, vcpuCount: 2, devices: [] };
  const bytes = await buildSnapshot(machine);
  console.log(`snapshot: ${ramMiB} MiB RAM (all pages non-zero), ${(bytes.length / MiB).toFixed(1)} MiB of stream; node ${process.version}`);
  for (let run = 1; run <= runs; run++) {
    console.log(`run ${run}:`);
    let start = process.hrtime.bigint();
    createHash('sha256').update(bytes).digest();
    for (let off = 0; off < bytes.length; off += MiB) crc32(bytes.subarray(off, off + MiB));
    report('checks only (sha+crc)', bytes.length, start);

    start = process.hrtime.bigint();
    await restoreSnapshot(new BufferSource(bytes), { ...machine, capabilities: CAPS }, target(machine.ramBytes));
    report('two-pass from buffer', bytes.length, start);

    start = process.hrtime.bigint();
    await restoreFromStream(feed(bytes), { ...machine, capabilities: CAPS }, target(machine.ramBytes));
    report('stream: passthrough', bytes.length, start);

    await overTcp(bytes, machine, target(machine.ramBytes));
  }
  console.log('median MiB/s:');
  for (const [mode, rates] of results) {
    const sorted = [...rates].sort((a, b) => a - b);
    console.log(`  ${mode.padEnd(24)} ${sorted[Math.floor(sorted.length / 2)].toFixed(0)}`);
  }
}

if (isMainThread) await main();
else await sender();
