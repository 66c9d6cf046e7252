// Dispatch options shared by the WebSocket sessions and the HTTP endpoint.
import type { DispatchOptions } from '../core/protocol/dispatch.ts';
import { BAD_REQUEST, RpcError } from '../core/protocol/errors.ts';
import { methodsForChain } from '../core/protocol/methods.ts';
import type { WorkerConfig } from './config.ts';
import { defaultCache, EdgeAnswerCache } from './edge-cache.ts';
import { HANDLERS } from './handlers.ts';
import { indexFailureKind } from './index-check.ts';
import type { IndexReader } from './index-reader.ts';
import { describeError, type LogFields, type Logger } from './log.ts';
import type { MethodContext, RequestOrder, SessionControl } from './methods/context.ts';
import { HttpTxRelay } from './relay-client.ts';

/** What a transport supplies for one message. */
export interface EngineParts {
  config: WorkerConfig;
  index: IndexReader;
  session: SessionControl;
  log: Logger;
  /** True for the stateless HTTP endpoint, which refuses subscriptions. */
  stateless: boolean;
  /** Where the session notes requests sent before server.version (the 1.6 first-message rule). */
  order?: RequestOrder;
  /** LIBSQL_URL, named in the log when a read of the index fails. */
  indexUrl?: string | undefined;
}

// A failed read of the index names it and says what to look at; the client only ever gets
// -32603 (DESIGN §5).
function indexFailureFields(error: unknown, indexUrl: string | undefined): LogFields {
  const kind = indexFailureKind(error);
  if (kind === 'refused') {
    return { index_url: indexUrl, hint: 'the index refused LIBSQL_AUTH_TOKEN' };
  }
  if (kind === 'unreachable') {
    // "Network connection lost" also comes from an overloaded Worker whose reads are dropped.
    const hint =
      'the read of the index at LIBSQL_URL was cut off: is it running and reachable? ' +
      '(a Worker under heavy load loses connections too)';
    return { index_url: indexUrl, hint };
  }
  return {};
}

/** The handlers' context: the index, chain, session, plus the edge cache and the relay. */
function methodContext(parts: EngineParts): MethodContext {
  const { config, index, session, log, order } = parts;
  const storage = defaultCache();
  const onCacheError = (event: string, error: unknown): void => {
    log.warn(event, describeError(error));
  };
  return {
    index,
    coin: config.coin,
    server: config.server,
    session,
    cache: storage === null ? undefined : new EdgeAnswerCache(storage, config.coin, onCacheError),
    reorgLimit: config.reorgLimit,
    relay: config.relay === null ? undefined : new HttpTxRelay(config.relay),
    order,
  };
}

/** The dispatch options of one message on one session. */
export function dispatchOptions(parts: EngineParts): DispatchOptions<MethodContext> {
  const { config, session, log, order } = parts;
  // `order` sees every request in message order; handlers may run later (limits, batches).
  return {
    methods: methodsForChain(config.coin.radiant),
    handlers: HANDLERS,
    context: methodContext(parts),
    protocolVersion: () => session.protocolVersion(),
    onRequest: (request) => order?.noteRequest(request.method),
    admit: parts.stateless ? refuseSubscriptions : undefined,
    onInternalError: (error, request) => {
      const fields = { method: request.method, ...describeError(error) };
      log.error('internal_error', { ...fields, ...indexFailureFields(error, parts.indexUrl) });
    },
  };
}

function refuseSubscriptions(spec: { name: string; stateful?: boolean }): RpcError | null {
  if (spec.stateful !== true) return null;
  const message = `${spec.name} needs a WebSocket session; it is not available over HTTP`;
  return new RpcError(BAD_REQUEST, message);
}
