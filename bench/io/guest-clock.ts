/**
 * The guest's own timing of a command, from /proc/uptime read before and after it
 * with the shell's `read` built-in (no fork, so nothing emulated is added around the
 * command). Debian's busybox dd prints no "bytes copied, N seconds" line and its
 * `date` has no sub-second format, so this is the guest clock available: 10 ms steps.
 */
export interface GuestTimed {
  /** The shell line to run instead of `command`. */
  line: string;
  /** Reads the guest's elapsed seconds and the command's exit status from the line's output. */
  parse(output: string): { seconds: number; status: number } | undefined;
}

const MARK = 'guest-clock';

export function guestTimed(command: string): GuestTimed {
  return {
    line: `read t0 _ < /proc/uptime; ${command}; st=$?; read t1 _ < /proc/uptime; echo ${MARK} $t0 $t1 $st`,
    parse(output) {
      const m = new RegExp(`^${MARK} ([\\d.]+) ([\\d.]+) (\\d+)`, 'm').exec(output);
      if (!m) return undefined;
      return { seconds: Number(m[2]) - Number(m[1]), status: Number(m[3]) };
    },
  };
}
