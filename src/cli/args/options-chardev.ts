/** -chardev, -serial, -mon, -monitor, -qmp, -nographic: consoles and monitors. */
import type { MonitorMode } from './chardev-spec.js';
import type { OptionSpec } from './option-spec.js';
import type { ParseState } from './parse-state.js';
import { parseChardevOption, parseLegacyChardev } from './chardev-options.js';
import { boolOption, parseKeyValue, rejectUnknownKeys } from './key-value.js';
import { UsageError } from './usage-error.js';

const GROUP = 'Character devices and monitors';
export const MONITOR_SOCKET_HINT = 'unix:PATH,server,nowait';

export const CHARDEV_OPTIONS: readonly OptionSpec[] = [
  {
    names: ['chardev'],
    arg: 'BACKEND,id=ID[,...]',
    example: 'socket,id=mon,path=/tmp/m.sock,server=on,wait=off',
    group: GROUP,
    help: 'named chardev: socket,path=P|host=H,port=N,server=on[,wait=off] | stdio | pty | null',
    apply(state, value) {
      const { id, spec } = parseChardevOption(value);
      if (state.chardevs.has(id)) {
        throw new UsageError(`-chardev: id '${id}' is already defined (give each -chardev its own id)`);
      }
      state.chardevs.set(id, spec);
    },
  },
  {
    names: ['serial'],
    arg: 'DEV',
    example: 'stdio',
    group: GROUP,
    help: 'next serial port, COM1 first (DEV below; also mon:stdio)',
    apply(state, value) {
      let text = value;
      if (text.startsWith('mon:')) {
        text = text.slice('mon:'.length);
        state.note(
          `-serial ${value}: the serial port goes to ${text}; the monitor is not multiplexed onto it (add -monitor ${MONITOR_SOCKET_HINT})`,
        );
      }
      state.serialRequests.push({ target: parseLegacyChardev(text, '-serial'), text: value });
    },
  },
  {
    names: ['mon'],
    arg: '[chardev=]ID[,mode=readline|control][,pretty=on]',
    example: 'chardev=mon,mode=readline',
    group: GROUP,
    help: 'monitor on a -chardev: mode=readline (HMP, default) or mode=control (QMP)',
    apply(state, value) {
      const flag = '-mon';
      const list = parseKeyValue(value, { impliedKey: 'chardev', flag });
      // `id` names the monitor itself and `default` is an obsolete QEMU flag; neither changes anything.
      rejectUnknownKeys(list, ['chardev', 'mode', 'pretty', 'id', 'default'], flag, '-mon');
      const id = list.get('chardev');
      if (!id) throw new UsageError(`${flag}: '${value}' names no chardev (use e.g. -mon chardev=mon,mode=readline)`);
      const mode = list.get('mode') ?? 'readline';
      if (mode !== 'readline' && mode !== 'control') {
        throw new UsageError(`${flag}: mode='${mode}' is not a monitor mode (use mode=readline or mode=control)`);
      }
      const pretty = boolOption(list, 'pretty', flag, false);
      if (pretty && mode === 'readline') {
        throw new UsageError(`${flag}: pretty=on applies to mode=control only (remove it for a readline monitor)`);
      }
      state.monitorRequests.push({ mode, pretty, target: { kind: 'ref', id }, flag });
    },
  },
  legacyMonitor('monitor', 'readline', false, 'human monitor (HMP)'),
  legacyMonitor('qmp', 'control', false, 'QMP monitor'),
  legacyMonitor('qmp-pretty', 'control', true, 'QMP monitor with pretty-printed replies'),
  {
    names: ['nographic'],
    group: GROUP,
    help: 'no display; serial port on stdio unless -serial says otherwise',
    apply(state) {
      state.nographic = true;
    },
  },
  {
    names: ['nodefaults'],
    group: GROUP,
    help: 'create no default serial port (only the ones -serial asks for)',
    apply(state) {
      state.nodefaults = true;
    },
  },
];

function legacyMonitor(name: string, mode: MonitorMode, pretty: boolean, what: string): OptionSpec {
  const flag = `-${name}`;
  return {
    names: [name],
    arg: 'DEV',
    example: 'unix:/tmp/vm1.qmp,server,nowait',
    group: GROUP,
    help: `${what} on DEV (below)`,
    apply(state: ParseState, value: string) {
      const target = parseLegacyChardev(value, flag);
      if (target.kind === 'none') return;
      state.monitorRequests.push({ mode, pretty, target, flag });
    },
  };
}
