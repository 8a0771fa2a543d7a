/**
 * Guest <-> namespace TCP: bulk throughput (busybox nc, guest receiving) and request
 * round trips (busybox httpd in the guest, busybox wget in a loop in the client
 * namespace). The client side is timed on the host; the guest clock plays no part.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestNetwork } from '../../src/net/testnet/test-network.js';
import type { ConsoleVm } from './console-vm.js';

const TCP_PORT = 5001;
const HTTP_PORT = 8080;
/** Port of the reference httpd on the client namespace's own loopback. */
const LOCAL_HTTP_PORT = 8081;

/** What the guest's eth0 counted during a measurement (its /sys statistics, read before and after). */
export interface GuestPackets {
  rx: number;
  rxBytes: number;
  tx: number;
}

export interface TcpResult {
  bytes: number;
  hostSeconds: number;
  guestPackets: GuestPackets;
}

export interface RttResult {
  requests: number;
  /** Mean host time per request, guest server. */
  perRequestMs: number;
  /** Mean host time per request of the same loop against a server on the client's loopback: the client's own cost. */
  clientFloorMs: number;
  /** During the timed requests. */
  guestPackets: GuestPackets;
}

interface Exit { status: number | null; stderr: string; ms: number }

/** Runs argv in the namespace with stdin from `stdinPath`, timing it host-side. */
function timedInNamespace(ns: string, argv: readonly string[], timeoutMs: number, stdinPath?: string): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const stdin = stdinPath ? openSync(stdinPath, 'r') : 'ignore';
    const t0 = process.hrtime.bigint();
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: [stdin, 'ignore', 'pipe'] });
    if (typeof stdin === 'number') closeSync(stdin);
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(e); });
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stderr, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
    });
  });
}

/** Makes sure the guest's eth0 has its address (the kernel's ip= does it; the shell does it otherwise). */
export async function ensureGuestAddress(vm: ConsoleVm, address: string, timeoutMs: number): Promise<void> {
  const shown = await vm.run('ip -4 addr show dev eth0', timeoutMs);
  if (shown.out.includes(`inet ${address}/`)) return;
  await vm.check0(`ifconfig eth0 ${address} netmask 255.255.255.0 up`, timeoutMs);
}

const STATS = ['rx_packets', 'rx_bytes', 'tx_packets'].map((f) => `/sys/class/net/eth0/statistics/${f}`);

/** The guest's eth0 counters now (one console command, outside any timed part). */
async function guestCounters(vm: ConsoleVm, timeoutMs: number): Promise<GuestPackets> {
  const r = await vm.check0(`cat ${STATS.join(' ')}`, timeoutMs);
  // The last three lines: the echoed command line before them may wrap at the tty's width.
  const [rx, rxBytes, tx] = r.out.trim().split('\n').slice(-3).map((line) => (/^\d+$/.test(line.trim()) ? Number(line) : NaN));
  if (![rx, rxBytes, tx].every(Number.isSafeInteger)) throw new Error(`${vm.label}: unexpected eth0 statistics:\n${r.out}`);
  return { rx, rxBytes, tx };
}

function packetsBetween(before: GuestPackets, after: GuestPackets): GuestPackets {
  return { rx: after.rx - before.rx, rxBytes: after.rxBytes - before.rxBytes, tx: after.tx - before.tx };
}

/** Retries `attempt` (refused while the guest is still starting its server) until it succeeds. */
async function untilAccepted(label: string, attempt: () => Promise<Exit>, timeoutMs: number): Promise<Exit> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await attempt();
    if (r.status === 0) return r;
    if (Date.now() > deadline) throw new Error(`${label}: no success within ${timeoutMs} ms; last attempt: status ${r.status}: ${r.stderr.trim()}`);
    await sleep(250);
  }
}

/** One TCP stream of the payload file from the client namespace into `nc -l` in the guest. */
export async function measureTcp(vm: ConsoleVm, network: TestNetwork, payloadPath: string, bytes: number, timeoutMs: number): Promise<TcpResult> {
  const client = network.clients[0];
  const before = await guestCounters(vm, timeoutMs);
  // The server keeps the console as stdin (no input arrives while it runs): with
  // </dev/null, busybox nc would half-close at once and the client would stop early.
  const server = vm.run(`nc -l -p ${TCP_PORT} > /dev/null`, timeoutMs);
  server.catch(() => {}); // awaited below; don't let a rejection go unhandled meanwhile
  const sent = await untilAccepted(`${vm.label} TCP stream`,
    () => timedInNamespace(client.ns, ['busybox', 'nc', '-w', '10', network.guest.address, String(TCP_PORT)], timeoutMs, payloadPath), timeoutMs);
  const done = await server;
  if (done.status !== 0) throw new Error(`${vm.label}: guest nc -l failed (status ${done.status}):\n${done.out}`);
  const guestPackets = packetsBetween(before, await guestCounters(vm, timeoutMs));
  return { bytes, hostSeconds: sent.ms / 1000, guestPackets };
}

const wgetLoop = (url: string, count: number) => ['busybox', 'sh', '-c',
  `i=0; while [ $i -lt ${count} ]; do busybox wget -q -O /dev/null ${url} || exit 1; i=$((i+1)); done`];

/** K sequential HTTP requests (a new TCP connection each) to busybox httpd in the guest. */
export async function measureRtt(vm: ConsoleVm, network: TestNetwork, wwwDir: string, requests: number, timeoutMs: number): Promise<RttResult> {
  const ns = network.clients[0].ns;
  await vm.check0(`mkdir -p /tmp/www && echo ok > /tmp/www/index.html && httpd -p ${HTTP_PORT} -h /tmp/www`, timeoutMs);
  const url = `http://${network.guest.address}:${HTTP_PORT}/index.html`;
  // The first request also resolves ARP and faults httpd's pages in: not part of the figure.
  await untilAccepted(`${vm.label} first HTTP request`, () => timedInNamespace(ns, wgetLoop(url, 1), timeoutMs), timeoutMs);
  const before = await guestCounters(vm, timeoutMs);
  const timed = await timedInNamespace(ns, wgetLoop(url, requests), timeoutMs);
  if (timed.status !== 0) throw new Error(`${vm.label}: wget loop failed (status ${timed.status}): ${timed.stderr.trim()}`);
  const guestPackets = packetsBetween(before, await guestCounters(vm, timeoutMs));
  return { requests, perRequestMs: timed.ms / requests, clientFloorMs: await clientFloor(ns, wwwDir, requests, timeoutMs), guestPackets };
}

/** The same wget loop against busybox httpd on the namespace's loopback: fork/exec and client costs only. */
async function clientFloor(ns: string, wwwDir: string, requests: number, timeoutMs: number): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', ns, 'busybox', 'httpd', '-f', '-p', `127.0.0.1:${LOCAL_HTTP_PORT}`, '-h', wwwDir], { stdio: 'ignore' });
  // `ip netns exec` execs httpd in place, so this pid is the server; it must not outlive us.
  const killServer = () => server.kill('SIGKILL');
  process.on('exit', killServer);
  try {
    const url = `http://127.0.0.1:${LOCAL_HTTP_PORT}/index.html`;
    await untilAccepted('loopback httpd', () => timedInNamespace(ns, wgetLoop(url, 1), 5000), 5000);
    const timed = await timedInNamespace(ns, wgetLoop(url, requests), timeoutMs);
    if (timed.status !== 0) throw new Error(`loopback wget loop failed (status ${timed.status}): ${timed.stderr.trim()}`);
    return timed.ms / requests;
  } finally {
    killServer();
    process.off('exit', killServer);
  }
}
