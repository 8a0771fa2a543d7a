/**
 * The serial console on the terminal (-nographic / -serial stdio): guest output to
 * stdout, keystrokes to the guest. As in QEMU, Ctrl-A is the escape key:
 * Ctrl-A x quits, Ctrl-A h prints help, Ctrl-A Ctrl-A sends one Ctrl-A.
 */
const CTRL_A = 0x01;

export interface ConsoleHooks {
  toGuest(bytes: Uint8Array): void;
  quit(): void;
}

export class StdioConsole {
  private escape = false;
  private readonly onData = (chunk: Buffer) => this.input(chunk);
  private rawMode = false;

  constructor(private readonly hooks: ConsoleHooks) {}

  attach(): void {
    if (process.stdin.isTTY) {
      process.stdin.setRawMode(true);
      this.rawMode = true;
    }
    process.stdin.on('data', this.onData);
    process.stdin.resume();
  }

  detach(): void {
    process.stdin.off('data', this.onData);
    if (this.rawMode) process.stdin.setRawMode(false);
    process.stdin.pause();
  }

  output(bytes: Uint8Array): void {
    process.stdout.write(bytes);
  }

  private input(chunk: Buffer): void {
    if (!this.rawMode) {
      this.hooks.toGuest(chunk);
      return;
    }
    const out: number[] = [];
    for (const b of chunk) {
      if (this.escape) {
        this.escape = false;
        if (b === 0x78 /* x */) {
          process.stderr.write('\r\ncuju: terminating on Ctrl-A x\r\n');
          this.hooks.quit();
          return;
        }
        if (b === 0x68 /* h */) {
          process.stderr.write('\r\nC-a h    print this help\r\nC-a x    exit cuju\r\nC-a C-a  send C-a\r\n');
          continue;
        }
        if (b === CTRL_A) out.push(CTRL_A);
        continue;
      }
      if (b === CTRL_A) this.escape = true;
      else out.push(b);
    }
    if (out.length) this.hooks.toGuest(Uint8Array.from(out));
  }
}
