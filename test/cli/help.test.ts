import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { helpText, versionText } from '../../src/cli/help.js';
import { ALL_OPTIONS } from '../../src/cli/args/option-table.js';
import { HELP_GROUP_ORDER } from '../../src/cli/args/option-spec.js';

test('help lists every accepted flag on a line of its own', () => {
  const lines = helpText().split('\n');
  for (const option of ALL_OPTIONS) {
    const spelled = `  -${option.names[0]}`;
    const hits = lines.filter((l) => l === spelled || l.startsWith(`${spelled} `) || l.startsWith(`${spelled},`));
    assert.equal(hits.length, 1, `-${option.names[0]} appears once`);
    assert.ok(helpText().includes(option.help), `help line of -${option.names[0]}`);
  }
});

test('help is grouped in the documented order and starts with usage', () => {
  const text = helpText();
  assert.ok(text.startsWith('usage: cuju [options]'));
  const positions = HELP_GROUP_ORDER.map((g) => text.indexOf(`\n${g}:\n`));
  for (const p of positions) assert.ok(p > 0);
  assert.deepEqual([...positions].sort((a, b) => a - b), positions);
});

test('version comes from package.json', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(versionText(), `cuju ${pkg.version} (QEMU-compatible command line, KVM)`);
});
