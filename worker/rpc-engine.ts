// Dispatch options shared by the WebSocket sessions and the HTTP endpoint.
import type { DispatchOptions } from '../core/protocol/dispatch.ts';
import { BAD_REQUEST, RpcError } from '../core/protocol/errors.ts';
import { METHODS } from '../core/protocol/methods.ts';
import type { WorkerConfig } from './config.ts';
import { HANDLERS } from './handlers.ts';
import type { IndexReader } from './index-reader.ts';
import { describeError, type Logger } from './log.ts';
import type { MethodContext, SessionControl } from './methods/context.ts';

/** What a transport supplies for one message. */
export interface EngineParts {
  config: WorkerConfig;
  index: IndexReader;
  session: SessionControl;
  log: Logger;
  /** True for the stateless HTTP endpoint, which refuses subscriptions. */
  stateless: boolean;
}

/** The dispatch options of one message on one session. */
export function dispatchOptions(parts: EngineParts): DispatchOptions<MethodContext> {
  const { config, index, session, log } = parts;
  return {
    methods: METHODS,
    handlers: HANDLERS,
    context: { index, coin: config.coin, server: config.server, session },
    protocolVersion: () => session.protocolVersion(),
    admit: parts.stateless ? refuseSubscriptions : undefined,
    onInternalError: (error, request) => {
      log.error('internal_error', { method: request.method, ...describeError(error) });
    },
  };
}

function refuseSubscriptions(spec: { name: string; stateful?: boolean }): RpcError | null {
  if (spec.stateful !== true) return null;
  const message = `${spec.name} needs a WebSocket session; it is not available over HTTP`;
  return new RpcError(BAD_REQUEST, message);
}
