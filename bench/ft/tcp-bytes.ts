/**
 * Bytes that crossed one TCP connection, from the kernel's own counters (`ss -ti`): what
 * the FT channel really carried, framing and state included, next to FtStats' page bytes.
 */
import { execFileSync } from 'node:child_process';

/** bytes_received of the established connection(s) whose local port is `port` (the backup's end). */
export function parseBytesReceived(ssOutput: string): number {
  let total = 0;
  for (const m of ssOutput.matchAll(/bytes_received:(\d+)/g)) total += Number(m[1]);
  return total;
}

export function bytesReceivedOnPort(port: number): number {
  const out = execFileSync('ss', ['-tinH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
  return parseBytesReceived(out);
}
