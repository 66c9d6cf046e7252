// Request dispatch: method lookup, arity checks, handler calls and the reply frame of a message.
import { INVALID_PARAMS, internalError, METHOD_NOT_FOUND, RpcError } from './errors.ts';
import {
  encodeBatch,
  encodeError,
  encodeResult,
  exceedsBytes,
  idOfItem,
  MAX_SEND_BYTES,
  parseMessage,
  responseTooLarge,
  utf8ByteLength,
  type ParsedItem,
  type RpcId,
  type RpcParams,
  type RpcRequest,
} from './framing.ts';
import type { MethodSpec } from './methods.ts';
import { versionInRange } from './version.ts';

/**
 * The space a reply may still take in its frame: MAX_SEND for a single request; in a batch,
 * MAX_SEND less the replies of the items already answered. A handler whose answer grows with the
 * data (a long history, many outputs, a big tx) checks it before reading or encoding, and throws
 * `responseTooLarge(room.maxSendBytes)` instead of building a reply that would be replaced.
 */
export interface ReplyRoom {
  readonly maxSendBytes: number;
  /**
   * Bytes left for this reply when asked: items of a batch finish while it runs, and the items
   * running beside it may have claimed some.
   */
  bytes(): number;
  /**
   * Claims `bytes` for this reply while it is built (a later claim replaces the earlier one), so
   * the items running beside it see that much less room; false, claiming nothing, when they do
   * not fit. A handler claims the least its reply will take before it reads the rest.
   */
  claim(bytes: number): boolean;
}

/** A method handler: positional arguments, already checked for count (not for value). */
export type Handler<C> = (context: C, args: readonly unknown[], room: ReplyRoom) => unknown;

/** The room of a reply that has its frame to itself. */
export function wholeFrame(maxSendBytes: number): ReplyRoom {
  return { maxSendBytes, bytes: () => maxSendBytes, claim: (bytes) => bytes <= maxSendBytes };
}

/**
 * Items of a batch that run at once (ElectrumX's initial concurrency): a batch of slow reads
 * queues behind itself instead of all starting together, so the room they share is known.
 */
export const BATCH_CONCURRENCY = 10;

/**
 * No reply, not even an error, fits in fewer bytes: a batch item reached with less room left is
 * answered "response too large" without running.
 */
const SMALLEST_REPLY_BYTES = 32;

/** Everything the dispatcher needs from its host (the Worker session, HTTP, a Node listener). */
export interface DispatchOptions<C> {
  methods: ReadonlyMap<string, MethodSpec>;
  handlers: Readonly<Record<string, Handler<C> | undefined>>;
  context: C;
  /** The session's negotiated version, read per request (server.version changes it mid-batch). */
  protocolVersion(): string;
  /** Refuses a request before its handler runs (subscriptions over HTTP); null lets it pass. */
  admit?(spec: MethodSpec, request: RpcRequest): RpcError | null;
  /** Told of every request before anything else happens to it (e.g. to note message order). */
  onRequest?(request: RpcRequest): void;
  /** Called with every exception that is not an RpcError; the client only sees -32603. */
  onInternalError(error: unknown, request: RpcRequest): void;
  /**
   * Told of each error reply that no handler threw (an invalid item, an unknown method, wrong
   * arguments, a refusal by admit, a reply with no room left in its frame), as it happens;
   * returns the error to send instead (a metered host charges it at once, and answers -101
   * once the budget is spent, so a batch of such items stops costing mid-batch).
   */
  onDispatchError?(error: RpcError): RpcError;
  maxRecvBytes?: number;
  maxSendBytes?: number;
}

/** The reply frame of one message (null when nothing is owed) and whether to close afterwards. */
export interface MessageOutcome {
  reply: string | null;
  disconnect: boolean;
}

function plural(count: number): string {
  return count === 1 ? '' : 's';
}

function namedArgs(spec: MethodSpec, params: Record<string, unknown>): unknown[] {
  const names = Object.keys(params);
  const missing = spec.params.slice(0, spec.required).filter((name) => !names.includes(name));
  if (missing.length > 0) {
    const list = missing.map((name) => `"${name}"`).join(', ');
    const message = `method "${spec.name}" requires parameter${plural(missing.length)} ${list}`;
    throw new RpcError(INVALID_PARAMS, message);
  }
  const excess = names.filter((name) => !spec.params.includes(name)).sort();
  if (excess.length > 0 && spec.ignoresExtraParams !== true) {
    const list = excess.map((name) => `"${name}"`).join(', ');
    const message = `method "${spec.name}" does not take parameter${plural(excess.length)} ${list}`;
    throw new RpcError(INVALID_PARAMS, message);
  }
  const args = spec.params.map((name) => params[name]);
  while (args.length > spec.required && args[args.length - 1] === undefined) args.pop();
  return args;
}

/**
 * Checks the parameter count (or names) against the table and returns positional arguments.
 * Messages follow aiorpcx's handler_invocation, which ElectrumX wallets already show users.
 */
export function checkArity(spec: MethodSpec, params: RpcParams): unknown[] {
  if (!Array.isArray(params)) return namedArgs(spec, params);
  const count = params.length;
  const passed = `${count} argument${plural(count)} passed to method`;
  if (count < spec.required) {
    const message = `${passed} "${spec.name}" but it requires ${spec.required}`;
    throw new RpcError(INVALID_PARAMS, message);
  }
  if (count > spec.params.length) {
    if (spec.ignoresExtraParams === true) return params.slice(0, spec.params.length);
    // aiorpcx leaves the method name unquoted in this one message.
    const message = `${passed} ${spec.name} taking at most ${spec.params.length}`;
    throw new RpcError(INVALID_PARAMS, message);
  }
  return params;
}

// The handler of a request and its positional arguments. @throws RpcError when it cannot run.
function resolveRequest<C>(
  request: RpcRequest,
  options: DispatchOptions<C>
): { handler: Handler<C>; args: unknown[] } {
  const spec = options.methods.get(request.method);
  const handler = Object.hasOwn(options.handlers, request.method)
    ? options.handlers[request.method]
    : undefined;
  const offered =
    spec !== undefined && versionInRange(options.protocolVersion(), spec.since, spec.until);
  if (spec === undefined || handler === undefined || !offered) {
    throw new RpcError(METHOD_NOT_FOUND, `unknown method "${request.method}"`);
  }
  const args = checkArity(spec, request.params);
  const refusal = options.admit?.(spec, request) ?? null;
  if (refusal !== null) throw refusal;
  return { handler, args };
}

/** Runs one request to its result. @throws RpcError for every failure, internal ones as -32603. */
export async function dispatchRequest<C>(
  request: RpcRequest,
  options: DispatchOptions<C>,
  room: ReplyRoom = wholeFrame(options.maxSendBytes ?? MAX_SEND_BYTES)
): Promise<unknown> {
  options.onRequest?.(request);
  let handler: Handler<C>;
  let args: unknown[];
  try {
    ({ handler, args } = resolveRequest(request, options));
  } catch (error) {
    if (!(error instanceof RpcError)) throw error;
    throw options.onDispatchError?.(error) ?? error;
  }
  try {
    return await handler(options.context, args, room);
  } catch (error) {
    if (error instanceof RpcError) throw error;
    options.onInternalError(error, request);
    throw internalError(error);
  }
}

interface ItemReply {
  text: string | null;
  disconnect: boolean;
}

async function answerItem<C>(
  item: ParsedItem,
  options: DispatchOptions<C>,
  room: ReplyRoom
): Promise<ItemReply> {
  if (!item.ok) return dispatchError(item.id, item.error, options);
  const { request } = item;
  // A notification gets no reply; like ElectrumX we do not run it either.
  if (request.isNotification) return { text: null, disconnect: false };
  if (room.bytes() < SMALLEST_REPLY_BYTES) {
    return dispatchError(request.id, responseTooLarge(room.maxSendBytes), options);
  }
  try {
    const result = await dispatchRequest(request, options, room);
    return { text: encodeReply(request, result, options), disconnect: false };
  } catch (error) {
    const rpcError = error instanceof RpcError ? error : internalError(error);
    return { text: encodeError(request.id, rpcError), disconnect: rpcError.disconnect };
  }
}

// The reply of an error no handler threw, as the host's onDispatchError has it sent.
function dispatchError<C>(id: RpcId, error: RpcError, options: DispatchOptions<C>): ItemReply {
  const sent = options.onDispatchError?.(error) ?? error;
  return { text: encodeError(id, sent), disconnect: sent.disconnect };
}

function encodeReply<C>(request: RpcRequest, result: unknown, options: DispatchOptions<C>): string {
  const { id } = request;
  let text: string;
  try {
    text = encodeResult(id, result);
  } catch (error) {
    options.onInternalError(error, request);
    return encodeError(id, internalError(error));
  }
  const maxSendBytes = options.maxSendBytes ?? MAX_SEND_BYTES;
  return exceedsBytes(text, maxSendBytes) ? encodeError(id, responseTooLarge(maxSendBytes)) : text;
}

/**
 * Answers one incoming message. A batch's items start in request order, BATCH_CONCURRENCY at a
 * time, and are answered in request order; replies that would take the batch past MAX_SEND are
 * replaced by "response too large" one by one as they finish, as aiorpcx does, so the frame
 * itself stays under the limit. Items that start once the replies so far have filled the frame
 * are refused without running, and each handler sees the room left and claims what it needs
 * (ReplyRoom), so a batch asking for more than one frame can carry costs about one frame's work.
 */
export async function handleMessage<C>(
  text: string,
  options: DispatchOptions<C>
): Promise<MessageOutcome> {
  const parsed = parseMessage(text, options.maxRecvBytes);
  if (parsed.kind === 'invalid') {
    return { reply: encodeError(null, parsed.error), disconnect: false };
  }
  const maxSendBytes = options.maxSendBytes ?? MAX_SEND_BYTES;
  if (parsed.kind === 'single') {
    const answer = await answerItem(parsed.item, options, wholeFrame(maxSendBytes));
    // Only an error echoing an id longer than MAX_SEND (MAX_RECV set above it) gets here.
    if (answer.text !== null && exceedsBytes(answer.text, maxSendBytes)) {
      const reply = encodeError(null, responseTooLarge(maxSendBytes));
      return { reply, disconnect: answer.disconnect };
    }
    return { reply: answer.text, disconnect: answer.disconnect };
  }
  const answers = await answerBatch(parsed.items, options, maxSendBytes);
  return assembleBatch(answers, maxSendBytes);
}

async function answerBatch<C>(
  items: ParsedItem[],
  options: DispatchOptions<C>,
  maxSendBytes: number
): Promise<ItemReply[]> {
  // The opening bracket, then each finished reply and its comma, in the order they finish: the
  // frame's size does not depend on the order of its parts. Running items' claims count too.
  let usedBytes = 1;
  let claimedBytes = 0;
  const itemRoom = (): ReplyRoom & { release(): void } => {
    let mine = 0;
    const left = (): number => maxSendBytes - usedBytes - (claimedBytes - mine);
    return {
      maxSendBytes,
      bytes: () => Math.max(0, left()),
      claim: (bytes) => {
        if (bytes > left()) return false;
        claimedBytes += bytes - mine;
        mine = bytes;
        return true;
      },
      release: () => {
        claimedBytes -= mine;
        mine = 0;
      },
    };
  };
  const answers: ItemReply[] = [];
  let next = 0;
  const runner = async (): Promise<void> => {
    for (let index = next++; index < items.length; index = next++) {
      const item = items[index];
      if (item === undefined) continue;
      const room = itemRoom();
      let answer: ItemReply;
      try {
        answer = await answerItem(item, options, room);
      } finally {
        room.release();
      }
      if (answer.text === null) continue;
      // A reply that would take the frame past MAX_SEND is replaced as it finishes, so the room
      // the later items see counts only what the frame will hold.
      if (usedBytes + utf8ByteLength(answer.text) + 1 > maxSendBytes) {
        const refused = dispatchError(idOfItem(item), responseTooLarge(maxSendBytes), options);
        answer = { text: refused.text, disconnect: answer.disconnect || refused.disconnect };
      }
      usedBytes += utf8ByteLength(answer.text ?? '') + 1;
      answers[index] = answer;
    }
  };
  const runners = Math.min(BATCH_CONCURRENCY, items.length);
  await Promise.all(Array.from({ length: runners }, runner));
  return answers;
}

/**
 * The batch's reply frame. Each part already fits beside the others, except error replies that
 * echo long ids: should those take the frame past MAX_SEND, the whole batch is answered with one
 * "response too large" error (id null) instead, so no frame ever exceeds it.
 */
function assembleBatch(answers: ItemReply[], maxSendBytes: number): MessageOutcome {
  const parts: string[] = [];
  // The brackets, plus one comma (or the closing bracket) per part.
  let totalBytes = 1;
  let disconnect = false;
  for (const answer of answers) {
    if (answer?.text === undefined || answer.text === null) continue;
    disconnect ||= answer.disconnect;
    totalBytes += utf8ByteLength(answer.text) + 1;
    parts.push(answer.text);
  }
  if (parts.length === 0) return { reply: null, disconnect };
  if (totalBytes > maxSendBytes) {
    return { reply: encodeError(null, responseTooLarge(maxSendBytes)), disconnect };
  }
  return { reply: encodeBatch(parts), disconnect };
}
