/**
 * How tests run a command on a guest's serial shell and find its output: the command is
 * wrapped in printed start/end markers. The markers are printed, not just echoed: the tty
 * echo of the typed line (twice if typed while the shell was still starting, possibly
 * wrapped) never matches them, because there they are followed by ';' or ' $?'. printf's
 * arguments are expanded before it runs, so $? is the command's status.
 */
export interface ShellCommand {
  /** What to type (ends with a newline). */
  line: string;
  /** Matches the output: group 1 the command's output, group 2 its exit status. */
  pattern: RegExp;
}

export function shellCommand(id: string, cmd: string): ShellCommand {
  const start = `__CUJU_START_${id}__`;
  const end = `__CUJU_END_${id}__`;
  return {
    line: `printf '%s\\n' ${start}; ${cmd}; printf '\\n%s %s\\n' ${end} $?\n`,
    pattern: new RegExp(`\\n${start}\\r?\\n([\\s\\S]*?)\\r?\\n${end} (\\d+)`),
  };
}

/** The output and status out of a match of ShellCommand.pattern. */
export function shellResult(m: RegExpMatchArray): { out: string; status: number } {
  return { out: m[1].replace(/\r/g, ''), status: Number(m[2]) };
}
