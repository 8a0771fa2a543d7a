/** Runs iproute2's `ip` synchronously (setup and teardown must also work in a process 'exit' handler). */
import { execFileSync } from 'node:child_process';

export class TestNetworkError extends Error {
  override readonly name = 'TestNetworkError';
}

/** Runs `ip <args>`; returns stdout, throws TestNetworkError with ip's own message. */
export function ip(args: readonly string[]): string {
  try {
    return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const stderr = (e as { stderr?: string }).stderr?.trim();
    throw new TestNetworkError(`ip ${args.join(' ')}: ${stderr || (e as Error).message}`);
  }
}

/** Like ip() but reports failure as false (teardown of something maybe already gone, atomic claims). */
export function tryIp(args: readonly string[]): boolean {
  try {
    ip(args);
    return true;
  } catch {
    return false;
  }
}

/** `ip -j <args>` parsed (iproute2's JSON output). */
export function ipJson<T>(args: readonly string[]): T[] {
  const out = ip(['-j', ...args]).trim();
  return out ? (JSON.parse(out) as T[]) : [];
}

export interface IpLink {
  ifname: string;
  ifalias?: string;
}

export function listLinks(): IpLink[] {
  return ipJson<IpLink>(['link', 'show']);
}

export function listNamespaces(): string[] {
  // `ip -j netns list` prints nothing at all when there are none.
  return ipJson<{ name: string }>(['netns', 'list']).map((ns) => ns.name);
}
