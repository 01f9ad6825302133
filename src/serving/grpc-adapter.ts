/**
 * Turns `async (request, ctx) => response` into a grpc-js unary handler: the handler gets an
 * Cancellation that is set on client cancellation or when the client's deadline passes, and its
 * failures are mapped to gRPC statuses (with the machine reason in the `pitstop-reason` trailer).
 *
 * No timer of our own per call: grpc-js already arms one for the client's deadline, answers
 * DEADLINE_EXCEEDED when it fires and then emits 'cancelled', which sets the Cancellation.
 */
import { Metadata, type ServerUnaryCall, type sendUnaryData, type handleUnaryCall } from '@grpc/grpc-js';
import { PitstopError } from '../core/errors.ts';
import { Cancellation } from './cancellation.ts';
import { GRPC_STATUS, publicError } from './error-map.ts';

export interface CallContext {
  /** Set when the client cancels or its deadline passes. */
  cancel: Cancellation;
  /** Client deadline in epoch ms, or Infinity when the client set none. */
  deadlineMs: number;
}

export type UnaryHandler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;

export interface AdapterOptions {
  log: (line: string) => void;
  /** Called once per call with its outcome, for metrics. */
  observe?: (method: string, seconds: number, code: string, label: string) => void;
  /** Label for metrics derived from the request (e.g. the feature service), default ''. */
  label?: (request: any) => string;
}

export function unary<Req, Res>(method: string, handler: UnaryHandler<Req, Res>, options: AdapterOptions): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const started = performance.now();
    const cancel = new Cancellation();
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? Number(deadline) : Infinity;
    const onCancel = () => cancel.abort(new PitstopError('DEADLINE_EXCEEDED', 'client cancelled or deadline passed'));
    call.once('cancelled', onCancel);
    const label = options.label ? safeLabel(options.label, call.request) : '';
    handler(call.request, { cancel, deadlineMs }).then(
      (res) => {
        call.removeListener('cancelled', onCancel);
        options.observe?.(method, (performance.now() - started) / 1000, 'OK', label);
        callback(null, res);
      },
      (e: unknown) => {
        call.removeListener('cancelled', onCancel);
        const err = publicError(e, options.log);
        options.observe?.(method, (performance.now() - started) / 1000, err.code, label);
        const trailer = new Metadata();
        trailer.set('pitstop-reason', err.reason);
        callback({ code: GRPC_STATUS[err.code], details: err.message, metadata: trailer });
      },
    );
  };
}

function safeLabel(f: (r: any) => string, request: unknown): string {
  try {
    return f(request);
  } catch {
    return '';
  }
}
