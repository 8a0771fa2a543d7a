/**
 * The QMP commands every cuju VM has, answering as QEMU 7.2 does
 * (qapi/*.json for shapes, monitor/qmp-cmds.c for behaviour).
 */
import { MonitorCommandError } from '../errors.js';
import { executeHmpLine } from '../hmp/executor.js';
import type { HmpContext } from '../hmp/registry.js';
import { CUJU_PACKAGE, QEMU_VERSION } from '../version.js';
import { contVm, cpuList, powerdownVm, queryStatus, resetVm, stopVm } from '../vm-actions.js';
import type { QmpCommandTable, QmpContext } from './registry.js';

export const QMP_CAPABILITIES = ['oob'] as const;

export function addBuiltinQmpCommands(table: QmpCommandTable): void {
  table.register({
    name: 'qmp_capabilities',
    args: { '*enable': [{ enum: QMP_CAPABILITIES }] },
    handler: (ctx, args) => {
      if (ctx.state.negotiated) {
        throw new MonitorCommandError('Capabilities negotiation is already complete, command ignored', 'CommandNotFound');
      }
      const enable = (args.enable as string[] | undefined) ?? [];
      ctx.state.oobEnabled = enable.includes('oob');
      ctx.state.negotiated = true;
    },
  });
  table.register({ name: 'query-status', handler: (ctx) => queryStatus(ctx.vm) });
  table.register({
    name: 'query-cpus-fast',
    handler: async (ctx) =>
      (await cpuList(ctx.vm)).map((cpu) => ({
        'cpu-index': cpu.index,
        'qom-path': `/machine/unattached/device[${cpu.index}]`,
        'thread-id': cpu.threadId,
        // x86 topology as QEMU reports it for `-smp N`: one single-core, single-thread socket per CPU.
        props: { 'core-id': 0, 'thread-id': 0, 'socket-id': cpu.index },
        target: 'x86_64',
      })),
  });
  table.register({
    name: 'query-kvm',
    handler: (ctx) => {
      const kvm = ctx.vm.kvmInfo();
      return { enabled: kvm.enabled, present: kvm.present };
    },
  });
  table.register({ name: 'stop', handler: (ctx) => stopVm(ctx.vm) });
  table.register({ name: 'cont', handler: (ctx) => contVm(ctx.vm) });
  table.register({ name: 'system_reset', handler: (ctx) => resetVm(ctx.vm) });
  table.register({ name: 'system_powerdown', handler: (ctx) => powerdownVm(ctx.vm) });
  table.register({
    name: 'quit',
    handler: (ctx) => {
      ctx.afterReply(() => ctx.vm.quit());
    },
  });
  table.register({
    name: 'query-commands',
    handler: (ctx) => ctx.commands.names().map((name) => ({ name })),
  });
  table.register({
    name: 'query-version',
    handler: () => ({
      qemu: { micro: QEMU_VERSION.micro, minor: QEMU_VERSION.minor, major: QEMU_VERSION.major },
      package: CUJU_PACKAGE,
    }),
  });
  table.register({
    name: 'query-name',
    handler: (ctx) => (ctx.vm.name ? { name: ctx.vm.name } : {}),
  });
  table.register({
    name: 'human-monitor-command',
    args: { 'command-line': 'str', '*cpu-index': 'int' },
    handler: (ctx, args) => runHmpCommand(ctx, args['command-line'] as string, args['cpu-index'] as number | undefined),
  });
}

/** QEMU's qmp_human_monitor_command: run an HMP line, return what it printed. */
async function runHmpCommand(ctx: QmpContext, line: string, cpuIndex: number | undefined): Promise<string> {
  if (cpuIndex !== undefined && !(await ctx.vm.cpus()).some((cpu) => cpu.index === cpuIndex)) {
    throw new MonitorCommandError("Parameter 'cpu-index' expects a CPU number");
  }
  let output = '';
  let current = cpuIndex ?? 0;
  const hmp: HmpContext = {
    vm: ctx.vm,
    commands: ctx.hmpCommands,
    get cpuIndex() {
      return current;
    },
    setCpuIndex: (index) => {
      current = index;
    },
    print: (text) => {
      output += text.replace(/\r?\n/g, '\r\n');
    },
    afterReply: (action) => ctx.afterReply(action),
    suspend: () => undefined,
  };
  await executeHmpLine(hmp, line);
  return output;
}
