/** One HMP command over a monitor's unix socket: its output, without the echo and prompt. */
import { SocketClient } from './socket-client.js';

export async function hmp(path: string, command: string, timeoutMs = 30_000): Promise<string> {
  const c = await SocketClient.connect(path);
  try {
    await c.waitFor('(qemu) ', Math.min(10_000, timeoutMs));
    c.take();
    c.write(command + '\n');
    const text = await c.waitFor(/\(qemu\) $/, timeoutMs);
    return text.replace(/\r/g, '').split('\n').slice(1, -1).join('\n');
  } finally {
    c.close();
  }
}
