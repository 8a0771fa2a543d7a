/**
 * The client bench:ft runs inside a network namespace of its test network (so its
 * packets really cross the bridge and the VMM's tap), as `node -e ECHO_CLIENT MODE ...`.
 * It talks to the guest's echo server (busybox nc + cat) over one TCP connection,
 * 8-byte requests carrying a sequence number, each one answered before the next is sent:
 *
 *   rtt HOST PORT COUNT      COUNT round trips after 5 unrecorded ones; prints
 *                            {"samplesMs":[...]} (host monotonic clock per round trip)
 *   stream HOST PORT SECS    back-to-back round trips for SECS seconds; prints
 *                            "connected" once connected, "answering" after the first
 *                            reply (the guest's nc starts cat per connection: slow), then at the end
 *                            {"replies":[[seq, sentWallMs, receivedWallMs], ...], "error":...}
 *
 * Wall-clock times (performance.timeOrigin + now) let the benchmark put replies next to
 * the moment it killed the primary, which it notes on the same host's clock.
 * A reply that is not the echo of the request fails the run (exit 3).
 */
export const ECHO_CLIENT = `
const net = require('node:net');
const [mode, host, port, arg] = process.argv.slice(1);
const wall = () => performance.timeOrigin + performance.now();
const WARMUP = 5;
let socket, seq = 0, pending = Buffer.alloc(0), sentAt = 0, sentWall = 0, onReply = null, error = null;
const samplesMs = [], replies = [];

function request() {
  seq++;
  const b = Buffer.alloc(8);
  b.writeUInt32BE(seq, 0);
  b.write('echo', 4, 'latin1');
  sentAt = performance.now();
  sentWall = wall();
  socket.write(b);
}

function connect(attempts) {
  socket = net.connect(Number(port), host);
  socket.setNoDelay(true);
  let connected = false;
  socket.on('connect', () => { connected = true; start(); });
  socket.on('data', (d) => {
    pending = Buffer.concat([pending, d]);
    while (pending.length >= 8) {
      const got = pending.readUInt32BE(0);
      pending = pending.subarray(8);
      if (got !== seq) { console.error('reply ' + got + ' to request ' + seq); process.exit(3); }
      onReply(performance.now() - sentAt, wall());
    }
  });
  socket.on('error', (e) => {
    if (!connected && attempts > 0) { setTimeout(() => connect(attempts - 1), 200); return; }
    error = error || (e.code || e.message);
    finish();
  });
  socket.on('close', () => { if (connected) { error = error || 'closed by the peer'; finish(); } });
}

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  console.log(JSON.stringify(mode === 'rtt' ? { samplesMs, error } : { replies, error }));
  process.exit(0);
}

function start() {
  if (mode === 'rtt') {
    const count = Number(arg);
    onReply = (ms) => {
      if (seq > WARMUP) samplesMs.push(ms);
      if (samplesMs.length >= count) return finish();
      request();
    };
    request();
  } else {
    console.log('connected');
    const until = performance.now() + Number(arg) * 1000;
    onReply = (ms, at) => {
      replies.push([seq, Math.round(sentWall * 1000) / 1000, Math.round(at * 1000) / 1000]);
      if (replies.length === 1) console.log('answering');
      if (performance.now() >= until) return finish();
      request();
    };
    setTimeout(finish, Number(arg) * 1000 + 30000);
    request();
  }
}

connect(150);
`;
