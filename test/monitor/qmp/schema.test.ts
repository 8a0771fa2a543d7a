import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkQmpArguments, type QmpArgSchema } from '../../../src/monitor/qmp/schema.js';
import { MonitorCommandError } from '../../../src/monitor/errors.js';

const schema: QmpArgSchema = {
  uri: 'str',
  '*detach': 'bool',
  '*speed': 'int',
  '*caps': [{ struct: { capability: { enum: ['ft', 'xbzrle'] }, state: 'bool' } }],
};

function message(args: Record<string, unknown>): string | undefined {
  try {
    checkQmpArguments(schema, args);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof MonitorCommandError);
    assert.equal(err.errorClass, 'GenericError');
    return err.message;
  }
}

test('valid arguments pass', () => {
  assert.equal(message({ uri: 'tcp:x:1', detach: true, speed: 5, caps: [{ capability: 'ft', state: true }] }), undefined);
  assert.equal(message({ uri: 'u' }), undefined);
});

test('QEMU messages for missing, unexpected, mistyped and out-of-enum members', () => {
  assert.equal(message({}), "Parameter 'uri' is missing");
  assert.equal(message({ uri: 'u', x: 1 }), "Parameter 'x' is unexpected");
  assert.equal(message({ uri: 1 }), "Invalid parameter type for 'uri', expected: string");
  assert.equal(message({ uri: 'u', speed: 1.5 }), "Invalid parameter type for 'speed', expected: integer");
  assert.equal(message({ uri: 'u', detach: 'yes' }), "Invalid parameter type for 'detach', expected: boolean");
  assert.equal(message({ uri: 'u', caps: {} }), "Invalid parameter type for 'caps', expected: array");
  assert.equal(
    message({ uri: 'u', caps: [{ capability: 'nope', state: true }] }),
    "Parameter 'caps[0].capability' does not accept value 'nope'",
  );
  assert.equal(message({ uri: 'u', caps: [{ capability: 'ft' }] }), "Parameter 'caps[0].state' is missing");
});

test('a command without a schema takes no arguments', () => {
  assert.throws(() => checkQmpArguments(undefined, { a: 1 }), /Parameter 'a' is unexpected/);
  checkQmpArguments(undefined, {});
});
