import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { findConfigMismatches, parseConfig, verifyConfig } from '../../src/guest/config-fragment.js';
import { KernelConfigMismatchError } from '../../src/guest/errors.js';
import { guestPaths } from '../../src/guest/paths.js';

const fragment = `# comment
CONFIG_SMP=y
CONFIG_NR_CPUS=4
# CONFIG_ACPI is not set
CONFIG_PCI=n
CONFIG_CMDLINE="console=ttyS0"
`;

test('parses set, valued and "is not set" lines with their line numbers', () => {
  assert.deepEqual(parseConfig(fragment), [
    { option: 'CONFIG_SMP', value: 'y', line: 2 },
    { option: 'CONFIG_NR_CPUS', value: '4', line: 3 },
    { option: 'CONFIG_ACPI', value: null, line: 4 },
    { option: 'CONFIG_PCI', value: 'n', line: 5 },
    { option: 'CONFIG_CMDLINE', value: '"console=ttyS0"', line: 6 },
  ]);
});

test('a .config honouring the fragment passes; absent counts as off', () => {
  const finalConfig = 'CONFIG_SMP=y\nCONFIG_NR_CPUS=4\n# CONFIG_ACPI is not set\nCONFIG_CMDLINE="console=ttyS0"\nCONFIG_OTHER=y\n';
  assert.deepEqual(findConfigMismatches(fragment, finalConfig), []);
  verifyConfig(fragment, finalConfig, 'f.config');
});

test('reports each dropped, different or unexpectedly enabled option', () => {
  const finalConfig = '# CONFIG_SMP is not set\nCONFIG_NR_CPUS=1\nCONFIG_ACPI=y\nCONFIG_PCI=y\n';
  const bad = findConfigMismatches(fragment, finalConfig).map((m) => `${m.wanted.option}:${m.actual}`);
  assert.deepEqual(bad, ['CONFIG_SMP:null', 'CONFIG_NR_CPUS:1', 'CONFIG_ACPI:y', 'CONFIG_PCI:y', 'CONFIG_CMDLINE:null']);
});

test('verifyConfig names the option and the fragment line in its error', () => {
  assert.throws(
    () => verifyConfig('CONFIG_A=y\nCONFIG_TMPFS=y\n', 'CONFIG_A=y\n', 'guest/kernel/cuju.config'),
    (err: unknown) => err instanceof KernelConfigMismatchError && /cuju\.config:2: wants CONFIG_TMPFS=y, final \.config has CONFIG_TMPFS not set/.test(err.message),
  );
});

test('the repository fragment has one setting per option and asks for what the VMM relies on', () => {
  const text = readFileSync(guestPaths().configFragment, 'utf8');
  const settings = parseConfig(text);
  const options = settings.map((s) => s.option);
  assert.equal(new Set(options).size, options.length, 'no option set twice');
  const want = (option: string, value: string | null): void =>
    assert.ok(settings.some((s) => s.option === option && s.value === value), `${option} should be ${value ?? 'not set'}`);
  want('CONFIG_KERNEL_GZIP', 'y');
  want('CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES', 'y');
  want('CONFIG_SERIAL_8250_CONSOLE', 'y');
  want('CONFIG_DEVMEM', 'y');
  want('CONFIG_CUJU_PVM_FIXUPS', 'y');
  want('CONFIG_CUJU_POWER', 'y');
  for (const off of ['CONFIG_ACPI', 'CONFIG_PCI', 'CONFIG_MODULES', 'CONFIG_PARAVIRT', 'CONFIG_KVM_GUEST', 'CONFIG_RD_GZIP', 'CONFIG_RANDOMIZE_BASE']) {
    want(off, null);
  }
});
