/**
 * How each transport answers a failure. A PitstopError keeps its code and machine reason; anything
 * else is INTERNAL, logged with its stack on the server and never described to the client.
 */
import { status as GrpcStatus } from '@grpc/grpc-js';
import { PitstopError, isPitstopError, type ErrorCode } from '../core/errors.ts';
import type { ErrorReason } from '../core/error-catalog.ts';

export const GRPC_STATUS: Readonly<Record<ErrorCode, GrpcStatus>> = {
  CANCELLED: GrpcStatus.CANCELLED,
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  DEADLINE_EXCEEDED: GrpcStatus.DEADLINE_EXCEEDED,
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  FAILED_PRECONDITION: GrpcStatus.FAILED_PRECONDITION,
  ABORTED: GrpcStatus.ABORTED,
  RESOURCE_EXHAUSTED: GrpcStatus.RESOURCE_EXHAUSTED,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  INTERNAL: GrpcStatus.INTERNAL,
};

export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  CANCELLED: 499,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  FAILED_PRECONDITION: 412,
  ABORTED: 409,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export interface PublicError {
  code: ErrorCode;
  reason: ErrorReason;
  message: string;
}

/** What a client may see of an error; logs unexpected ones (with their stack) through `log`. */
export function publicError(e: unknown, log: (line: string) => void): PublicError {
  if (isPitstopError(e)) {
    if (e.code === 'INTERNAL') log(`internal error ${e.reason}: ${e.stack ?? e.message}`);
    return { code: e.code, reason: e.reason, message: e.code === 'INTERNAL' ? 'internal error' : e.describe() };
  }
  log(`unexpected error: ${(e as Error)?.stack ?? String(e)}`);
  return { code: 'INTERNAL', reason: 'INTERNAL', message: 'internal error' };
}

/** The error raised when a request's deadline passes or its client goes away. */
export function deadlineError(): PitstopError {
  return new PitstopError('DEADLINE_EXCEEDED', 'deadline exceeded before the answer was ready');
}
