/**
 * Argument checking for QMP commands, with QAPI's notation and QEMU's error
 * messages (qapi/qobject-input-visitor.c):
 *   { uri: 'str', '*detach': 'bool', '*enable': [{ enum: ['oob'] }] }
 * `*name` is optional; types: 'str' 'int' 'number' 'bool' 'any', an enum,
 * a nested struct `{ struct: {...} }`, or a one-element array `[type]` for a list.
 */
import { MonitorCommandError } from '../errors.js';

export type QmpType =
  | 'str'
  | 'int'
  | 'number'
  | 'bool'
  | 'any'
  | { enum: readonly string[] }
  | { struct: QmpArgSchema }
  | readonly [QmpType];

export type QmpArgSchema = Readonly<Record<string, QmpType>>;

export type QmpArguments = Record<string, unknown>;

/** A programming error in a command's schema. */
export class QmpSchemaError extends Error {
  override readonly name = 'QmpSchemaError';
}

function fail(message: string): never {
  throw new MonitorCommandError(message, 'GenericError');
}

function invalidType(path: string, expected: string): never {
  fail(`Invalid parameter type for '${path}', expected: ${expected}`);
}

function checkValue(type: QmpType, value: unknown, path: string): void {
  if (Array.isArray(type)) {
    if (!Array.isArray(value)) invalidType(path, 'array');
    value.forEach((element, i) => checkValue(type[0], element, `${path}[${i}]`));
    return;
  }
  if (typeof type === 'object') {
    if ('enum' in type) {
      if (typeof value !== 'string') invalidType(path, 'string');
      if (!type.enum.includes(value)) fail(`Parameter '${path}' does not accept value '${value}'`);
      return;
    }
    if ('struct' in type) {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) invalidType(path, 'object');
      checkObject(type.struct, value as QmpArguments, `${path}.`);
      return;
    }
    throw new QmpSchemaError(`bad QMP type at '${path}'`);
  }
  switch (type) {
    case 'str':
      if (typeof value !== 'string') invalidType(path, 'string');
      return;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) invalidType(path, 'integer');
      return;
    case 'number':
      if (typeof value !== 'number') invalidType(path, 'number');
      return;
    case 'bool':
      if (typeof value !== 'boolean') invalidType(path, 'boolean');
      return;
    case 'any':
      return;
  }
}

function checkObject(schema: QmpArgSchema, args: QmpArguments, prefix: string): void {
  const members = new Map<string, { type: QmpType; optional: boolean }>();
  for (const [key, type] of Object.entries(schema)) {
    const optional = key.startsWith('*');
    members.set(optional ? key.slice(1) : key, { type, optional });
  }
  for (const [name, member] of members) {
    if (!(name in args)) {
      if (!member.optional) fail(`Parameter '${prefix}${name}' is missing`);
      continue;
    }
    checkValue(member.type, args[name], `${prefix}${name}`);
  }
  for (const name of Object.keys(args)) {
    if (!members.has(name)) fail(`Parameter '${prefix}${name}' is unexpected`);
  }
}

/** Throws MonitorCommandError (GenericError) with QEMU's message if `args` do not fit. */
export function checkQmpArguments(schema: QmpArgSchema | undefined, args: QmpArguments): void {
  checkObject(schema ?? {}, args, '');
}
