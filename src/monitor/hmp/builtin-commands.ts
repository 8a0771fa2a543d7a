/**
 * The HMP commands every cuju VM has, with QEMU 7.2's names, help texts and
 * output formats (hmp-commands.hx, hmp-commands-info.hx, monitor/hmp-cmds.c).
 */
import { MonitorCommandError } from '../errors.js';
import { QEMU_VERSION_STRING, CUJU_PACKAGE } from '../version.js';
import { contVm, cpuList, powerdownVm, queryStatus, requireCpu, resetVm, stopVm } from '../vm-actions.js';
import { executeInfo } from './executor.js';
import { helpLine, type HmpCommandTable, type HmpContext } from './registry.js';

function printHelp(ctx: HmpContext, topic: string | undefined): void {
  const words = (topic ?? '').split(/\s+/).filter((w) => w !== '');
  if (words.length === 0) {
    for (const command of ctx.commands.list()) ctx.print(helpLine(command));
    return;
  }
  if (words[0] === 'info') {
    if (words.length === 1) {
      for (const item of ctx.commands.listInfo()) ctx.print(helpLine(item, 'info '));
      return;
    }
    const item = ctx.commands.findInfo(words[1]);
    ctx.print(item ? helpLine(item, 'info ') : `unknown command: 'info ${words[1]}'\n`);
    return;
  }
  const command = ctx.commands.find(words[0]);
  ctx.print(command ? helpLine(command) : `unknown command: '${words[0]}'\n`);
}

export function addBuiltinHmpCommands(table: HmpCommandTable): void {
  table.register({
    name: 'help',
    aliases: ['?'],
    args: 'name:S?',
    params: '[cmd]',
    help: 'show the help',
    handler: (ctx, args) => printHelp(ctx, args.optionalString('name')),
  });
  table.register({
    name: 'info',
    args: 'item:S?',
    params: '[subcommand]',
    help: 'show various information about the system state',
    handler: async (ctx, args) => {
      const item = args.optionalString('item');
      if (!item) return printHelp(ctx, 'info');
      await executeInfo(ctx, item);
    },
  });
  table.register({
    name: 'stop',
    help: 'stop emulation',
    handler: (ctx) => stopVm(ctx.vm),
  });
  table.register({
    name: 'cont',
    aliases: ['c'],
    help: 'resume emulation',
    handler: (ctx) => contVm(ctx.vm),
  });
  table.register({
    name: 'system_reset',
    help: 'reset the system',
    handler: (ctx) => resetVm(ctx.vm),
  });
  table.register({
    name: 'system_powerdown',
    help: 'send system power down event',
    handler: (ctx) => powerdownVm(ctx.vm),
  });
  table.register({
    name: 'quit',
    aliases: ['q'],
    help: 'quit the emulator',
    handler: (ctx) => {
      // Like QEMU: no prompt after quit; the process ends once this client has read everything.
      ctx.suspend();
      ctx.afterReply(() => ctx.vm.quit());
    },
  });
  table.register({
    name: 'cpu',
    args: 'index:i',
    help: 'set the default CPU',
    handler: async (ctx, args) => {
      const index = args.int('index');
      if (!(await ctx.vm.cpus()).some((cpu) => cpu.index === index)) {
        throw new MonitorCommandError('invalid CPU index');
      }
      ctx.setCpuIndex(index);
    },
  });

  table.registerInfo({
    name: 'status',
    help: 'show the current VM status (running|paused)',
    handler: (ctx) => {
      const info = queryStatus(ctx.vm);
      let text = `VM status: ${info.running ? 'running' : 'paused'}`;
      if (!info.running && info.status !== 'paused') text += ` (${info.status})`;
      ctx.print(`${text}\n`);
    },
  });
  table.registerInfo({
    name: 'cpus',
    help: 'show infos for each CPU',
    handler: async (ctx) => {
      for (const cpu of await cpuList(ctx.vm)) {
        const marker = cpu.index === ctx.cpuIndex ? '*' : ' ';
        ctx.print(`${marker} CPU #${cpu.index}: thread_id=${cpu.threadId}\n`);
      }
    },
  });
  table.registerInfo({
    name: 'registers',
    args: 'cpustate_all:-a,vcpu:i?',
    help:
      'show the cpu registers (-a: all - show register info for all cpus; ' +
      'index: show register info for specified cpu)',
    handler: async (ctx, args) => {
      if (args.flag('cpustate_all')) {
        for (const cpu of await cpuList(ctx.vm)) {
          ctx.print(`\nCPU#${cpu.index}\n`);
          ctx.print(ensureNewline(await ctx.vm.registersText(cpu.index)));
        }
        return;
      }
      const index = args.optionalInt('vcpu') ?? ctx.cpuIndex;
      await requireCpu(ctx.vm, index);
      ctx.print(ensureNewline(await ctx.vm.registersText(index)));
    },
  });
  table.registerInfo({
    name: 'kvm',
    help: 'show KVM information',
    handler: (ctx) => {
      const kvm = ctx.vm.kvmInfo();
      ctx.print(`kvm support: ${kvm.present ? (kvm.enabled ? 'enabled' : 'disabled') : 'not compiled'}\n`);
      ctx.print(`kvm backend: ${kvm.backend} (${kvm.note})\n`);
    },
  });
  table.registerInfo({
    name: 'name',
    help: 'show the current VM name',
    handler: (ctx) => {
      if (ctx.vm.name) ctx.print(`${ctx.vm.name}\n`);
    },
  });
  table.registerInfo({
    name: 'version',
    help: 'show the version of QEMU',
    handler: (ctx) => ctx.print(`${QEMU_VERSION_STRING} (${CUJU_PACKAGE})\n`),
  });
}

function ensureNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}
