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

/** The call's Cancellation, kept on the grpc-js call object for `onCancelled`. */
const CANCEL = Symbol('pitstop.cancel');

/**
 * One 'cancelled' listener for every call (`this` is the call): a closure per call cost a
 * `__name` defineProperty each under tsx (esbuild keepNames; 0.46% of the server's busy CPU at
 * 1 x 50), and `once` a wrapper per call; the listener is removed when the call ends anyway.
 */
function onCancelled(this: ServerUnaryCall<unknown, unknown>): void {
  (this as unknown as { [CANCEL]?: Cancellation })[CANCEL]?.abort(new PitstopError('DEADLINE_EXCEEDED', 'client cancelled or deadline passed'));
}

export function unary<Req, Res>(method: string, handler: UnaryHandler<Req, Res>, options: AdapterOptions): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const started = performance.now();
    const cancel = new Cancellation();
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? Number(deadline) : Infinity;
    (call as unknown as { [CANCEL]?: Cancellation })[CANCEL] = cancel;
    call.on('cancelled', onCancelled);
    const label = options.label ? safeLabel(options.label, call.request) : '';
    handler(call.request, { cancel, deadlineMs }).then(
      (res) => {
        call.removeListener('cancelled', onCancelled);
        options.observe?.(method, (performance.now() - started) / 1000, 'OK', label);
        callback(null, res);
      },
      (e: unknown) => {
        call.removeListener('cancelled', onCancelled);
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
