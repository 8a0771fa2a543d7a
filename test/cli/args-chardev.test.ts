/** -chardev, -serial, -mon, -monitor, -qmp, -nographic and the rules between them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, usageError } from './helpers.js';

test('-chardev socket in QEMU\'s old and new spellings', () => {
  const old = run('-chardev socket,id=mon,path=/tmp/m.sock,server,nowait -mon chardev=mon').config;
  const modern = run('-chardev socket,id=mon,path=/tmp/m.sock,server=on,wait=off -mon chardev=mon').config;
  const expected = { kind: 'socket', path: '/tmp/m.sock', server: true, wait: false };
  assert.deepEqual(old.chardevs.get('mon'), expected);
  assert.deepEqual(modern.chardevs.get('mon'), expected);
  // A server socket waits for its first client unless told not to (QEMU's default).
  assert.deepEqual(run('-chardev socket,id=m,path=/p,server -mon m').config.chardevs.get('m'), { ...expected, path: '/p', wait: true });
});

test('-chardev socket over TCP, stdio, pty, null', () => {
  const { config } = run(
    '-chardev socket,id=q,host=127.0.0.1,port=4444,server=on,wait=off,nodelay -mon chardev=q,mode=control ' +
      '-chardev stdio,id=s -serial chardev:s -chardev pty,id=p -serial chardev:p -chardev null,id=n -serial chardev:n',
  );
  assert.deepEqual(config.chardevs.get('q'), { kind: 'tcp', host: '127.0.0.1', port: 4444, server: true, wait: false, noDelay: true });
  assert.deepEqual(config.serial, [{ kind: 'stdio' }, { kind: 'pty' }, { kind: 'null' }]);
  assert.deepEqual(run('-chardev socket,id=q,port=5555,server -qmp chardev:q').config.chardevs.get('q'), {
    kind: 'tcp', host: '0.0.0.0', port: 5555, server: true, wait: true, noDelay: false,
  });
  assert.equal((run('-chardev socket,id=q,host=::1,port=1,server -qmp chardev:q').config.chardevs.get('q') as { host: string }).host, '::1');
});

test('-chardev errors', () => {
  usageError('-chardev socket,path=/tmp/x,server', /-chardev: .* has no id/);
  usageError('-chardev id=x', /names no backend/);
  usageError('-chardev file,id=f,path=/tmp/log', /backend 'file' is not supported/);
  usageError('-chardev socket,id=c,path=/tmp/x', /only listening sockets are supported \(add server=on/);
  usageError('-chardev socket,id=c,path=/tmp/x,server=maybe', /server='maybe' is not on or off/);
  usageError('-chardev socket,id=c,server', /needs path=PATH or port=PORT/);
  usageError('-chardev socket,id=c,path=/x,port=1,server', /either path= .* or host=\/port=/);
  usageError('-chardev socket,id=c,port=99999,server', /'99999' is not a TCP port/);
  usageError('-chardev socket,id=c,path=/x,server,telnet', /unknown option 'telnet' for a socket chardev/);
  usageError('-chardev stdio,id=s,mux=on', /mux is not supported/);
  usageError('-chardev stdio,id=s,signal=off', /unknown option 'signal' for a stdio chardev/);
  usageError('-chardev null,id=a -chardev pty,id=a', /id 'a' is already defined/);
});

test('-mon: modes, pretty, implied chardev key', () => {
  const { config } = run(
    '-chardev socket,id=h,path=/h,server,nowait -chardev socket,id=q,path=/q,server,nowait ' +
      '-mon chardev=h,id=monitor,mode=readline -mon q,mode=control,pretty=on',
  );
  assert.deepEqual(config.monitors, [
    { mode: 'readline', chardev: { kind: 'socket', path: '/h', server: true, wait: false }, pretty: false, chardevId: 'h' },
    { mode: 'control', chardev: { kind: 'socket', path: '/q', server: true, wait: false }, pretty: true, chardevId: 'q' },
  ]);
  // mode defaults to readline.
  assert.equal(run('-chardev pty,id=p -mon chardev=p').config.monitors[0].mode, 'readline');
});

test('-mon errors', () => {
  usageError('-mon chardev=nope', /^cuju: -mon: no -chardev with id 'nope' \(define it, e\.g\. -chardev socket,id=nope,/);
  usageError('-mon mode=control', /-mon: 'mode=control' names no chardev/);
  usageError('-chardev pty,id=p -mon chardev=p,mode=json', /mode='json' is not a monitor mode/);
  usageError('-chardev pty,id=p -mon chardev=p,pretty=on', /pretty=on applies to mode=control only/);
  usageError('-chardev pty,id=p -mon chardev=p,bogus=1', /-mon: unknown option 'bogus'/);
});

test('a -chardev may come after the option that uses it, as in QEMU', () => {
  const { config } = run('-mon chardev=late,mode=control -chardev socket,id=late,path=/l,server,nowait');
  assert.equal(config.monitors[0].chardevId, 'late');
});

test('-qmp and -monitor legacy strings', () => {
  const { config } = run('-qmp unix:/tmp/q.sock,server,nowait -monitor unix:/tmp/h.sock,server,nowait');
  assert.deepEqual(config.monitors, [
    { mode: 'control', chardev: { kind: 'socket', path: '/tmp/q.sock', server: true, wait: false }, pretty: false },
    { mode: 'readline', chardev: { kind: 'socket', path: '/tmp/h.sock', server: true, wait: false }, pretty: false },
  ]);
  assert.deepEqual(run('-qmp tcp:localhost:4444,server,nowait').config.monitors[0].chardev, {
    kind: 'tcp', host: 'localhost', port: 4444, server: true, wait: false, noDelay: false,
  });
  assert.deepEqual(run('-qmp tcp::4444,server').config.monitors[0].chardev, {
    kind: 'tcp', host: '0.0.0.0', port: 4444, server: true, wait: true, noDelay: false,
  });
  assert.deepEqual(run('-qmp tcp:[::1]:4444,server,nowait').config.monitors[0].chardev, {
    kind: 'tcp', host: '::1', port: 4444, server: true, wait: false, noDelay: false,
  });
  assert.equal(run('-qmp-pretty unix:/q,server').config.monitors[0].pretty, true);
  assert.deepEqual(run('-monitor stdio').config.monitors, [{ mode: 'readline', chardev: { kind: 'stdio' }, pretty: false }]);
  assert.deepEqual(run('-monitor none').config.monitors, []);
  // ",," escapes a comma in the socket path.
  assert.equal((run('-qmp unix:/tmp/a,,b,server').config.monitors[0].chardev as { path: string }).path, '/tmp/a,b');
});

test('legacy string errors', () => {
  usageError('-qmp unix:/tmp/q.sock', /-qmp: only listening sockets are supported/);
  usageError('-qmp tcp:4444,server', /^cuju: -qmp: '4444' has no port \(use HOST:PORT/);
  usageError('-qmp tcp:host:http,server', /'http' is not a TCP port/);
  usageError('-qmp tcp:::1:4444,server', /put the IPv6 address .* in brackets/);
  usageError('-qmp unix:,server', /empty socket path/);
  usageError('-qmp unix:/q,server,bogus', /unknown option 'bogus' for a unix socket/);
  usageError('-monitor vc', /-monitor: 'vc' is not a supported character device/);
  usageError('-serial file:/tmp/log', /-serial: 'file' is not a supported character device/);
  usageError('-serial chardev:', /'chardev:' needs an id/);
  usageError('-serial chardev:ghost', /^cuju: -serial chardev:ghost: no -chardev with id 'ghost'/);
  usageError('-qmp chardev:ghost', /^cuju: -qmp: no -chardev with id 'ghost'/);
});

test('-serial targets and their order', () => {
  const { config } = run('-serial stdio -serial unix:/tmp/s,server,nowait -serial pty -serial none');
  assert.deepEqual(config.serial, [
    { kind: 'stdio' },
    { kind: 'socket', path: '/tmp/s', server: true, wait: false },
    { kind: 'pty' },
    { kind: 'none' },
  ]);
  usageError('-serial null -serial null -serial null -serial null -serial null', /at most 4 serial ports/);
});

test('-serial mon:stdio is serial on stdio, with a note that the monitor is not there', () => {
  const { config, notes } = run('-serial mon:stdio');
  assert.deepEqual(config.serial, [{ kind: 'stdio' }]);
  assert.deepEqual(config.monitors, []);
  assert.ok(notes.some((n) => /^-serial mon:stdio: .*monitor is not multiplexed/.test(n)));
});

test('default serial port: stdio with -nographic, discarded otherwise, none with -nodefaults', () => {
  const graphic = run('-nographic');
  assert.deepEqual(graphic.config.serial, [{ kind: 'stdio' }]);
  assert.equal(graphic.config.nographic, true);
  assert.ok(graphic.notes.some((n) => /^-nographic: .*monitor is not multiplexed/.test(n)));
  const withMonitor = run(['-nographic', '-monitor', 'unix:/tmp/m,server,nowait']);
  assert.ok(!withMonitor.notes.some((n) => /^-nographic/.test(n)), 'no hint when a monitor is configured');

  const plain = run([]);
  assert.deepEqual(plain.config.serial, [{ kind: 'null' }]);
  assert.ok(plain.notes.some((n) => /serial console is discarded/.test(n)));

  assert.deepEqual(run('-nographic -nodefaults').config.serial, []);
  assert.deepEqual(run('-nodefaults').config.serial, []);
  // An explicit -serial replaces the default.
  assert.deepEqual(run('-nographic -serial pty').config.serial, [{ kind: 'pty' }]);
});

test('stdio has one user: cuju cannot multiplex it', () => {
  usageError('-nographic -monitor stdio', /^cuju: -monitor: stdio is already used by -nographic \(cuju cannot multiplex stdio/);
  usageError('-serial stdio -qmp stdio', /-qmp: stdio is already used by -serial stdio/);
  usageError('-serial stdio -serial stdio', /stdio is already used/);
  usageError('-chardev stdio,id=s -serial stdio -mon chardev=s', /-mon: stdio is already used by -serial stdio/);
  // stdio for the monitor alone is fine, and keeps the serial default off stdio.
  assert.deepEqual(run('-monitor stdio').config.serial, [{ kind: 'null' }]);
});

test('a chardev has one user', () => {
  usageError('-chardev pty,id=p -serial chardev:p -mon chardev=p', /^cuju: -mon: chardev 'p' is already used by -serial chardev:p/);
  usageError('-chardev pty,id=p -mon p -mon p', /-mon: chardev 'p' is already used by -mon/);
});

test('an unused -chardev is noted', () => {
  const { notes } = run('-chardev pty,id=spare');
  assert.ok(notes.includes('-chardev id=spare: defined but not used by any -serial or -mon'));
});

test('-daemonize refuses stdio and -nographic', () => {
  usageError('-daemonize -nographic', /-nographic cannot be used with -daemonize/);
  usageError('-daemonize -serial stdio', /^cuju: -daemonize: -serial stdio uses stdio/);
  usageError('-daemonize -monitor stdio', /-daemonize: -monitor uses stdio/);
  const { config } = run('-daemonize -pidfile /run/vm1.pid -serial pty');
  assert.equal(config.daemonize, true);
  assert.equal(config.pidfile, '/run/vm1.pid');
});
