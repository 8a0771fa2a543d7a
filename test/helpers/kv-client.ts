/**
 * The client of the fault-tolerance failure tests, run inside a client namespace of the
 * test network as `node -e KV_CLIENT HOST PORT SECONDS [STALL_MS]`. It keeps ONE TCP
 * connection to cuju-kv (guest/workloads/cuju-kv.c) and sends one request at a time,
 * the pattern C, C, W n (n = 1, 2, 3, ...), for SECONDS, checking every answer against
 * what it already holds:
 *   - "C k": k must be the previous acknowledged counter + 1 (an answer from a state
 *     that lost an acknowledged increment, or repeated one, breaks the chain);
 *   - "W n r": r (records in the log after the write) must equal n: the log holds
 *     exactly the acknowledged writes, none lost, none twice.
 * Then it sends "R" (the service drops its page cache and reads the log back from the
 * disk) and expects "R w w 0": w records, the last one w, none out of order or torn.
 *
 * It prints "connected", then "answering" after the first answer, "ack N" after every
 * answer (so the test knows how many it had at any moment), and at the end one JSON
 * line: KvClientResult.
 * A request unanswered for STALL_MS (default 30000) ends the run with error 'stalled'.
 */

export interface KvClientResult {
  /** Answers received (C and W). */
  answers: number;
  /** Last acknowledged counter value and last acknowledged write. */
  counter: number;
  written: number;
  /** The read-back answer ("R ..."), or null when the run ended before it. */
  read: string | null;
  /** Connection-level failure ('closed by the peer', 'stalled', ECONNRESET, ...), or null. */
  error: string | null;
  /** The first answer that broke the rules above, or null. */
  bad: string | null;
  /** Longest wait for one answer, ms, and when it ended (wall clock ms). */
  maxWaitMs: number;
  maxWaitEndedAt: number;
}

export const KV_CLIENT = `
const net = require('node:net');
const [host, port, seconds, stallArg] = process.argv.slice(1);
const STALL_MS = Number(stallArg || 30000);
const wall = () => performance.timeOrigin + performance.now();
let socket, buf = '', step = 0, w = 0, counter = 0, written = 0, answers = 0;
let pending = null, sentAt = 0, read = null, error = null, bad = null, maxWaitMs = 0, maxWaitEndedAt = 0;
let stopAt = 0, finished = false, stallTimer = null;

function finish() {
  if (finished) return;
  finished = true;
  console.log(JSON.stringify({ answers, counter, written, read, error, bad, maxWaitMs: Math.round(maxWaitMs), maxWaitEndedAt: Math.round(maxWaitEndedAt) }));
  process.exit(0);
}

function send(req) {
  pending = req;
  sentAt = performance.now();
  clearTimeout(stallTimer);
  stallTimer = setTimeout(() => { error = error || 'stalled'; finish(); }, STALL_MS);
  socket.write(req + '\\n');
}

function next() {
  if (performance.now() >= stopAt) return send('R');
  const kind = step++ % 3 === 2 ? 'W' : 'C';
  send(kind === 'W' ? 'W ' + (w + 1) : 'C');
}

function onAnswer(line) {
  const waited = performance.now() - sentAt;
  if (waited > maxWaitMs) { maxWaitMs = waited; maxWaitEndedAt = wall(); }
  const req = pending;
  pending = null;
  const f = line.split(' ');
  if (req === 'R') {
    read = line;
    if (line !== 'R ' + written + ' ' + written + ' 0') bad = bad || ('read back ' + JSON.stringify(line) + ' after ' + written + ' acknowledged writes');
    return finish();
  }
  answers++;
  if (answers === 1) console.log('answering');
  console.log('ack ' + answers);
  if (req === 'C') {
    if (f[0] !== 'C' || Number(f[1]) !== counter + 1) bad = bad || ('after C ' + counter + ' came ' + JSON.stringify(line));
    else counter++;
  } else {
    const n = Number(req.slice(2));
    if (f[0] !== 'W' || Number(f[1]) !== n || Number(f[2]) !== n) bad = bad || ('write ' + n + ' answered ' + JSON.stringify(line) + ' (the log should hold exactly ' + n + ' records)');
    else { w = n; written = n; }
  }
  if (bad) return finish();
  next();
}

function connect(attempts) {
  socket = net.connect(Number(port), host);
  socket.setNoDelay(true);
  socket.setEncoding('utf8');
  let connected = false;
  socket.on('connect', () => {
    connected = true;
    console.log('connected');
    stopAt = performance.now() + Number(seconds) * 1000;
    next();
  });
  socket.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (pending === null) { bad = bad || ('unasked answer ' + JSON.stringify(line)); return finish(); }
      onAnswer(line);
    }
  });
  socket.on('error', (e) => {
    if (!connected && attempts > 0) { setTimeout(() => connect(attempts - 1), 300); return; }
    error = error || (e.code || e.message);
    finish();
  });
  socket.on('close', () => { if (connected) { error = error || 'closed by the peer'; finish(); } });
}

connect(100);
`;
