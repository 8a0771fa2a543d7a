/**
 * One QMP request from parsed JSON to response object, following QEMU's
 * qmp_dispatch(): request shape checks (qmp_dispatch_check_obj), capability
 * negotiation mode, OOB rules, command lookup, argument checks, the handler.
 * Never throws: every failure is an `{"error": ...}` response.
 */
import { MonitorCommandError, type QmpErrorClass } from '../errors.js';
import type { QmpCommandDef, QmpContext, QmpSessionState } from './registry.js';
import { checkQmpArguments, type QmpArguments } from './schema.js';

export type QmpResponse =
  | { return: unknown; id?: unknown }
  | { error: { class: QmpErrorClass; desc: string }; id?: unknown };

export interface QmpRequest {
  command: string;
  arguments: QmpArguments;
  /** Absent when the client sent none; echoed verbatim otherwise. */
  id?: unknown;
  hasId: boolean;
  /** Sent as `exec-oob`. */
  oob: boolean;
}

export function errorResponse(errorClass: QmpErrorClass, desc: string, request?: { id?: unknown; hasId: boolean }): QmpResponse {
  const response: QmpResponse = { error: { class: errorClass, desc } };
  if (request?.hasId) response.id = request.id;
  return response;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Check the request envelope; returns the request or the error response to send. */
export function parseQmpRequest(value: unknown, state: QmpSessionState): QmpRequest | QmpResponse {
  if (!isObject(value)) return errorResponse('GenericError', 'QMP input must be a JSON object');
  const hasId = 'id' in value;
  const id = { id: value.id, hasId };
  let execKey: string | undefined;
  for (const [key, member] of Object.entries(value)) {
    if (key === 'execute' || (key === 'exec-oob' && state.oobEnabled)) {
      if (typeof member !== 'string') return errorResponse('GenericError', `QMP input member '${key}' must be a string`, id);
      if (execKey) return errorResponse('GenericError', `QMP input member '${key}' clashes with '${execKey}'`, id);
      execKey = key;
    } else if (key === 'arguments') {
      if (!isObject(member)) return errorResponse('GenericError', "QMP input member 'arguments' must be an object", id);
    } else if (key !== 'id') {
      return errorResponse('GenericError', `QMP input member '${key}' is unexpected`, id);
    }
  }
  if (!execKey) return errorResponse('GenericError', "QMP input lacks member 'execute'", id);
  return {
    command: value[execKey] as string,
    arguments: (value.arguments as QmpArguments | undefined) ?? {},
    id: value.id,
    hasId,
    oob: execKey === 'exec-oob',
  };
}

export function isQmpRequest(parsed: QmpRequest | QmpResponse): parsed is QmpRequest {
  return 'command' in parsed;
}

/** Find the command, or the error QEMU gives in this session state. */
export function resolveQmpCommand(request: QmpRequest, ctx: QmpContext): QmpCommandDef | QmpResponse {
  const command = ctx.commands.find(request.command);
  if (!ctx.state.negotiated && request.command !== 'qmp_capabilities') {
    // QEMU's negotiation mode has a command table of one; it rewords "not found" to say what is expected.
    return errorResponse('CommandNotFound', "Expecting capabilities negotiation with 'qmp_capabilities'", request);
  }
  if (!command) return errorResponse('CommandNotFound', `The command ${request.command} has not been found`, request);
  if (request.oob && !command.allowOob) {
    return errorResponse('GenericError', `The command ${request.command} does not support OOB`, request);
  }
  return command;
}

export async function runQmpCommand(command: QmpCommandDef, request: QmpRequest, ctx: QmpContext): Promise<QmpResponse> {
  try {
    checkQmpArguments(command.args, request.arguments);
    const result = await command.handler(ctx, request.arguments);
    const response: QmpResponse = { return: result === undefined ? {} : result };
    if (request.hasId) response.id = request.id;
    return response;
  } catch (err) {
    if (err instanceof MonitorCommandError) return errorResponse(err.errorClass, err.message, request);
    // A fault in a handler is answered, not allowed to take the monitor down.
    return errorResponse('GenericError', err instanceof Error ? err.message : String(err), request);
  }
}
