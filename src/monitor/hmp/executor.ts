/**
 * Runs one HMP command line against a command table: name lookup, argument
 * parsing, the handler, and QEMU's wording for everything that goes wrong.
 * Never throws: every failure becomes text for the client.
 */
import { HmpArgumentError, parseHmpArguments } from './args.js';
import type { HmpCommand, HmpContext } from './registry.js';

/** Split `name rest...` the way QEMU's get_command_name does (up to the first blank). */
function splitCommand(line: string): { name: string; rest: string } {
  const trimmed = line.replace(/^\s+/, '');
  const match = /^(\S+)(.*)$/s.exec(trimmed);
  return match ? { name: match[1], rest: match[2] } : { name: '', rest: '' };
}

export async function executeHmpLine(ctx: HmpContext, line: string): Promise<void> {
  const { name, rest } = splitCommand(line);
  if (name === '') return;
  await runCommand(ctx, ctx.commands.find(name), name, rest, '');
}

/** `info ITEM args`: the info sub-table, with errors naming `info ITEM`. */
export async function executeInfo(ctx: HmpContext, text: string): Promise<void> {
  const { name, rest } = splitCommand(text);
  await runCommand(ctx, ctx.commands.findInfo(name), name, rest, 'info ');
}

async function runCommand(
  ctx: HmpContext,
  command: HmpCommand | undefined,
  name: string,
  rest: string,
  prefix: string,
): Promise<void> {
  if (!command) {
    ctx.print(`unknown command: '${prefix}${name}'\n`);
    return;
  }
  let args;
  try {
    args = parseHmpArguments(name, command.argSpecs, rest);
  } catch (err) {
    if (err instanceof HmpArgumentError) {
      ctx.print(`${err.message}\nTry "help ${prefix}${name}" for more information\n`);
    } else {
      ctx.print(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    return;
  }
  try {
    await command.handler(ctx, args);
  } catch (err) {
    // QEMU's hmp_handle_error(): one "Error: ..." line. Unexpected faults are reported
    // the same way rather than taking the monitor (or the VMM) down.
    ctx.print(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}
