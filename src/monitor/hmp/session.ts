/**
 * One HMP client: greeting, prompt, line editing, and commands run one at a
 * time in the order typed (input is paused while a command runs). Like QEMU's
 * readline over a socket, the typed line is echoed back after the prompt, so
 * `echo 'info status' | nc -U vm.monitor` shows `(qemu) info status`.
 * A client leaving mid-command harms nothing: the command finishes, its output
 * goes nowhere.
 */
import type { Session } from '../../chardev/session.js';
import type { VmControl } from '../../vm/control.js';
import { CUJU_VERSION, QEMU_VERSION_STRING } from '../version.js';
import { executeHmpLine } from './executor.js';
import { HmpLineReader, MAX_COMMAND_LINE_BYTES, type ReadLine } from './line-reader.js';
import type { HmpCommandTable, HmpContext } from './registry.js';

export const HMP_GREETING = `QEMU ${QEMU_VERSION_STRING} monitor (cuju ${CUJU_VERSION}) - type 'help' for more information`;
export const HMP_PROMPT = '(qemu) ';

/** QEMU's monitor output turns every \n into \r\n (monitor_puts). */
function toWire(text: string): string {
  return text.replace(/\r?\n/g, '\r\n');
}

export class HmpSession {
  private readonly reader = new HmpLineReader();
  private readonly pending: ReadLine[] = [];
  private busy = false;
  private suspended = false;
  /** The client sent its last byte: finish what it asked, then hang up. */
  private inputEnded = false;
  private cpuIndex = 0;

  constructor(
    private readonly session: Session,
    private readonly vm: VmControl,
    private readonly commands: HmpCommandTable,
  ) {
    session.write(toWire(`${HMP_GREETING}\n`) + HMP_PROMPT);
    session.on('data', (chunk: Buffer) => {
      if (this.suspended) return;
      this.pending.push(...this.reader.feed(chunk));
      void this.runPending();
    });
    session.on('end', () => {
      this.inputEnded = true;
      if (!this.busy) session.close();
    });
  }

  private async runPending(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.session.pause();
    while (this.pending.length > 0 && !this.suspended) {
      await this.runLine(this.pending.shift()!);
    }
    this.busy = false;
    if (this.inputEnded) this.session.close();
    else if (!this.suspended) this.session.resume();
  }

  private async runLine(read: ReadLine): Promise<void> {
    const afterReply: Array<() => Promise<void> | void> = [];
    const ctx = this.context(afterReply);
    if (!this.session.echoesInput) this.session.write(`${read.line}\r\n`);
    if (read.overlong) {
      ctx.print(`Error: command line longer than ${MAX_COMMAND_LINE_BYTES} bytes ignored\n`);
    } else {
      await executeHmpLine(ctx, read.line);
    }
    if (afterReply.length > 0) {
      await this.session.drain();
      for (const action of afterReply) {
        try {
          await action();
        } catch (err) {
          ctx.print(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      }
    }
    if (!this.suspended) this.session.write(HMP_PROMPT);
  }

  private context(afterReply: Array<() => Promise<void> | void>): HmpContext {
    const self = this;
    return {
      vm: this.vm,
      commands: this.commands,
      get cpuIndex() {
        return self.cpuIndex;
      },
      print: (text) => this.session.write(toWire(text)),
      setCpuIndex: (index) => {
        this.cpuIndex = index;
      },
      afterReply: (action) => afterReply.push(action),
      suspend: () => {
        this.suspended = true;
      },
    };
  }
}
