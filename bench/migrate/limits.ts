/**
 * The ceilings a live migration on this machine is compared with, measured in the same
 * run: copying memory in one process (Buffer.copy), and one plain Node TCP stream over
 * loopback from this process to a child process (the shape of a migration: two
 * processes, one socket, Node on both ends).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';

const MiB = 1024 * 1024;

export interface Rate {
  /** Median of the repetitions, MiB/s. */
  median: number;
  best: number;
  samples: number[];
}

export function summarize(samples: number[]): Rate {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)], best: sorted[sorted.length - 1], samples };
}

/** Buffer.copy of `bytes` between two pre-faulted buffers, `reps` times. */
export function memcpyRate(bytes: number, reps: number): Rate {
  const src = Buffer.alloc(bytes, 0xa5);
  const dst = Buffer.alloc(bytes); // alloc zero-fills: both are faulted in before timing
  src.copy(dst);
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    src.copy(dst);
    samples.push(bytes / MiB / ((performance.now() - t0) / 1000));
  }
  return summarize(samples);
}

/**
 * The receiving child: listens on an ephemeral loopback port, prints it, counts bytes
 * until the sender closes, prints the count. Plain `net` with default settings.
 */
const SINK = `
const net = require('node:net');
const server = net.createServer((s) => {
  let n = 0;
  s.on('data', (d) => { n += d.length; });
  s.on('end', () => { process.stdout.write('received ' + n + '\\n'); s.end(); server.close(); });
});
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'));
`;

/** One stream of `bytes` in `chunk`-sized writes (honouring backpressure) to a child process. */
async function streamOnce(bytes: number, chunk: number): Promise<number> {
  const child = spawn(process.execPath, ['-e', SINK], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  try {
    while (!/port (\d+)\n/.test(out)) await once(child.stdout, 'data');
    const port = Number(/port (\d+)\n/.exec(out)![1]);
    const socket = connect({ port, host: '127.0.0.1' });
    await once(socket, 'connect');
    const buf = Buffer.alloc(chunk, 0x5a);
    const t0 = performance.now();
    for (let sent = 0; sent < bytes; sent += chunk) {
      if (!socket.write(buf)) await once(socket, 'drain');
    }
    socket.end();
    while (!/received (\d+)\n/.test(out)) await once(child.stdout, 'data');
    const ms = performance.now() - t0;
    const received = Number(/received (\d+)\n/.exec(out)![1]);
    if (received !== Math.ceil(bytes / chunk) * chunk) throw new Error(`TCP sink received ${received} bytes, expected ${bytes}`);
    socket.destroy();
    return received / MiB / (ms / 1000);
  } finally {
    child.kill();
  }
}

/** Loopback TCP stream rate, `reps` streams of `bytes` each in 1 MiB writes. */
export async function tcpStreamRate(bytes: number, reps: number): Promise<Rate> {
  const samples: number[] = [];
  for (let i = 0; i < reps; i++) samples.push(await streamOnce(bytes, MiB));
  return summarize(samples);
}
