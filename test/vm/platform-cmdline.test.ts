import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fullCmdline, platformCmdline, tscClockParams } from '../../src/vm/platform-cmdline.js';

const KHZ = 2445406;
/** The two parameters tscClockParams adds (not e.g. clearcpuid=...rdtscp). */
const TSC_PARAM = /(^| )(tsc_early_khz|tsc)=/;

test('kvm_pvm with a known TSC frequency: the guest is told it and trusts the TSC', () => {
  assert.deepEqual(tscClockParams('kvm_pvm', KHZ), [`tsc_early_khz=${KHZ}`, 'tsc=reliable']);
  const line = platformCmdline('kvm_pvm', { tscKhz: KHZ });
  assert.match(line, /(^| )tsc_early_khz=2445406( |$)/);
  assert.match(line, /(^| )tsc=reliable( |$)/);
  assert.match(line, /(^| )nowatchdog( |$)/, 'the other kvm_pvm parameters stay');
});

test('no TSC parameters on VT-x/AMD-V, without a frequency, or with a nonsensical one', () => {
  for (const backend of ['kvm_intel', 'kvm_amd', 'unknown'] as const) assert.deepEqual(tscClockParams(backend, KHZ), [], backend);
  assert.deepEqual(tscClockParams('kvm_pvm', undefined), []);
  assert.deepEqual(tscClockParams('kvm_pvm', 0), []);
  assert.deepEqual(tscClockParams('kvm_pvm', -1), []);
  assert.doesNotMatch(platformCmdline('kvm_intel', { tscKhz: KHZ }), TSC_PARAM);
});

test('platformCmdline without options is what it was before the TSC option', () => {
  assert.equal(platformCmdline('kvm_pvm'), platformCmdline('kvm_pvm', {}));
  assert.doesNotMatch(platformCmdline('kvm_pvm'), TSC_PARAM);
  assert.equal(fullCmdline('console=ttyS0', 'kvm_pvm'), `console=ttyS0 ${platformCmdline('kvm_pvm')}`);
});

test("the user's own TSC settings win: the platform adds none of its own", () => {
  for (const user of ['console=ttyS0 tsc=unstable', 'tsc_early_khz=1000', 'quiet tsc=reliable  ']) {
    assert.deepEqual(tscClockParams('kvm_pvm', KHZ, user), [], user);
    const line = fullCmdline(user, 'kvm_pvm', KHZ);
    assert.ok(line.startsWith(user.trim()), line);
    assert.doesNotMatch(line.slice(user.trim().length), TSC_PARAM, line);
  }
  // Words that merely contain "tsc=" are not the tsc= parameter.
  assert.deepEqual(tscClockParams('kvm_pvm', KHZ, 'notsc=1 foo_tsc=2'), [`tsc_early_khz=${KHZ}`, 'tsc=reliable']);
});

test('fullCmdline: user part first, each platform parameter exactly once', () => {
  fc.assert(
    fc.property(fc.stringMatching(/^[a-z0-9_= ]{0,40}$/), fc.integer({ min: 1, max: 10_000_000 }), (user, khz) => {
      const line = fullCmdline(user, 'kvm_pvm', khz);
      assert.ok(line.startsWith(user.trim()));
      const platform = line.slice(user.trim().length).trim().split(' ');
      assert.equal(new Set(platform).size, platform.length);
      const userSetsTsc = /(^|\s)(tsc_early_khz|tsc)=/.test(user);
      assert.equal(platform.includes(`tsc_early_khz=${khz}`), !userSetsTsc);
    }),
  );
});
