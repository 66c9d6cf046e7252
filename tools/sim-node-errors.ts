// JSON-RPC error codes of the simulated node, as radiant-node / bitcoind define them.
// Source: radiant-node src/rpc/protocol.h (RPCErrorCode); HTTP mapping from src/httprpc.cpp.

/** Request is not a valid JSON-RPC object (missing method, bad params); HTTP 400. */
export const RPC_INVALID_REQUEST = -32600;
/** No such method; HTTP 404. */
export const RPC_METHOD_NOT_FOUND = -32601;
/** The node's own failure. */
export const RPC_INTERNAL_ERROR = -32603;
/** The body is not JSON, or its top level is neither an object nor an array. */
export const RPC_PARSE_ERROR = -32700;
/** Anything a handler throws without a code, including wrong arity and JSON type mismatches. */
export const RPC_MISC_ERROR = -1;
/** A parameter has the wrong JSON type where the node checks types up front (RPCTypeCheck). */
export const RPC_TYPE_ERROR = -3;
/** Unknown block or transaction. */
export const RPC_INVALID_ADDRESS_OR_KEY = -5;
/** A parameter is out of range or malformed (heights, hashes, hex). */
export const RPC_INVALID_PARAMETER = -8;
/** sendrawtransaction: the bytes are not one transaction. */
export const RPC_DESERIALIZATION_ERROR = -22;
/** sendrawtransaction: inputs missing or already spent in the chain. */
export const RPC_VERIFY_ERROR = -25;
/** sendrawtransaction: rejected by the mempool rules (conflict, coinbase, value). */
export const RPC_VERIFY_REJECTED = -26;
/** sendrawtransaction: the transaction's outputs are already in the chain. */
export const RPC_VERIFY_ALREADY_IN_CHAIN = -27;
/** The node is still loading (answered in the error500 fault mode). */
export const RPC_IN_WARMUP = -28;

/** An error the node reports as `{code, message}` in the reply's `error` member. */
export class NodeRpcError extends Error {
  override name = 'NodeRpcError';
  readonly code: number;

  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
}

/** bitcoind's HTTP status for a single (non-batch) request that failed with `code`. */
export function httpStatusForCode(code: number): number {
  if (code === RPC_INVALID_REQUEST) return 400;
  if (code === RPC_METHOD_NOT_FOUND) return 404;
  return 500;
}
