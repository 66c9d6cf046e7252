// `electrum-edge rpc <command> [args]`: a client of the indexer's admin RPC, like electrumx_rpc.
import { request } from 'node:http';
import { redact } from '../indexer/logger.ts';
import { adminRpcSettings, UNAUTHORIZED } from '../indexer/admin-rpc.ts';
import type { CliIo } from './io.ts';
import { UsageError, parseArgs, type ParsedArgs } from './args.ts';

/** Where and how to call the admin RPC. */
export interface AdminRpcTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  timeoutMs: number;
}

/** The admin RPC answered with a JSON-RPC error. */
export class AdminRpcCallError extends Error {
  override name = 'AdminRpcCallError';
  constructor(
    readonly code: number,
    message: string
  ) {
    super(message);
  }
}

function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/**
 * Calls `method` with positional `params`; resolves to the result.
 * @throws AdminRpcCallError for a JSON-RPC error reply, Error for HTTP or network failures.
 */
export function callAdminRpc(
  target: AdminRpcTarget,
  method: string,
  params: unknown[]
): Promise<unknown> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
  const auth = Buffer.from(`${target.user}:${target.password}`).toString('base64');
  return new Promise((done, fail) => {
    const req = request(
      {
        host: target.host.replace(/^\[(.*)\]$/, '$1'),
        port: target.port,
        method: 'POST',
        path: '/',
        agent: false,
        timeout: target.timeoutMs,
        headers: { 'content-type': 'application/json', authorization: `Basic ${auth}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          settle(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), done, fail);
        });
      }
    );
    req.on('timeout', () => req.destroy(new Error(`no reply within ${target.timeoutMs} ms`)));
    req.on('error', (error) => {
      const where = `http://${urlHost(target.host)}:${target.port}`;
      const hint = 'is the indexer running? RPC_HOST and RPC_PORT say where its admin RPC listens';
      fail(new Error(`cannot reach the admin RPC at ${where}: ${error.message} (${hint})`));
    });
    req.end(body);
  });
}

function settle(
  status: number,
  text: string,
  done: (result: unknown) => void,
  fail: (error: Error) => void
): void {
  let reply: { result?: unknown; error?: { code?: unknown; message?: unknown } };
  try {
    reply = JSON.parse(text) as typeof reply;
  } catch {
    fail(new Error(`the admin RPC answered HTTP ${status} without JSON`));
    return;
  }
  if (reply.error !== undefined) {
    const code = typeof reply.error.code === 'number' ? reply.error.code : 0;
    fail(new AdminRpcCallError(code, String(reply.error.message ?? 'error')));
    return;
  }
  done(reply.result ?? null);
}

// Arguments are JSON when they parse (numbers, lists, true), else plain strings, so that
// `rpc disconnect 12` sends a number and `rpc log all` a string.
function parseParam(arg: string): unknown {
  try {
    return JSON.parse(arg) as unknown;
  } catch {
    return arg;
  }
}

function isPort(value: number): boolean {
  return Number.isInteger(value) && value >= 1 && value <= 65_535;
}

// RPC_HOST/RPC_PORT and --host/--port; a bad port is reported here (exit 2), not thrown.
function rpcTarget(args: ParsedArgs, io: CliIo): AdminRpcTarget | undefined {
  let settings: ReturnType<typeof adminRpcSettings>;
  try {
    settings = adminRpcSettings(io.env);
  } catch (error) {
    io.stderr(`electrum-edge rpc: ${error instanceof Error ? error.message : String(error)}\n`);
    return undefined;
  }
  const timeoutSeconds = Number(args.options.get('timeout') ?? '30');
  if (!(timeoutSeconds > 0)) throw new UsageError('--timeout must be a positive number of seconds');
  const portText = args.options.get('port');
  const port = portText === undefined ? settings.port : Number(portText);
  if (!isPort(port)) {
    const name = portText === undefined ? 'RPC_PORT' : '--port';
    const shown = (portText ?? String(port)).slice(0, 20);
    throw new UsageError(`${name} must be a port from 1 to 65535, got "${shown}"`);
  }
  return {
    host: args.options.get('host') ?? settings.host,
    port,
    user: settings.user,
    password: settings.password,
    timeoutMs: timeoutSeconds * 1000,
  };
}

/** Runs the `rpc` subcommand; returns the exit code (0 ok, 1 error reply, 2 usage or network). */
export async function runRpcCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const args = parseArgs(argv, ['host', 'port', 'timeout'], []);
  const [method, ...rest] = args.positionals;
  if (method === undefined) {
    throw new UsageError('rpc needs a command, e.g. `electrum-edge rpc getinfo`');
  }
  if (method === 'reorg' && rest.length === 0) {
    throw new UsageError('rpc reorg needs the number of blocks to unwind, e.g. `rpc reorg 3`');
  }
  const target = rpcTarget(args, io);
  if (target === undefined) return 2;
  if (target.user === '' || target.password === '') {
    io.stderr('RPC_USER and RPC_PASSWORD must be set in the environment (not in arguments)\n');
    return 2;
  }
  try {
    const result = await callAdminRpc(target, method, rest.map(parseParam));
    io.stdout(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  } catch (error) {
    const secrets = [target.password];
    if (error instanceof AdminRpcCallError) {
      let message = redact(error.message, secrets);
      if (error.code === UNAUTHORIZED) {
        message += ': the indexer refused RPC_USER and RPC_PASSWORD (use the ones it runs with)';
      }
      const shown = { code: error.code, message };
      io.stderr(`${JSON.stringify(shown, null, 2)}\n`);
      return 1;
    }
    io.stderr(`${redact(error instanceof Error ? error.message : String(error), secrets)}\n`);
    return 2;
  }
}
