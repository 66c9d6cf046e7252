// The push-notification suites' stack: the Radiant 0-1 chain behind the full stack with change
// notices on, every log line kept, and wallet sockets closed when the stack stops.
import { getCoin } from '../../core/coins.ts';
import { indexerEnv, WalletSocket } from '../../tools/bench-notify.ts';
import { startStack, type Stack } from '../../tools/stack.ts';

export const NOTIFY_CHAIN_FILE = 'data/radiant_mainnet_0-1.json';
export const NOTIFY_COIN = getCoin('Radiant', 'mainnet');
/** How long a test waits for an expected notification. */
export const NOTIFY_TIMEOUT_MS = 20_000;
/** How long a session stays quiet to show that nothing more is coming. */
export const QUIET_MS = 1_500;
export const SCRIPTHASH_SUBSCRIBE = 'blockchain.scripthash.subscribe';
export const HEADERS_SUBSCRIBE = 'blockchain.headers.subscribe';

/** A started stack, its log lines so far, and wallets that negotiated protocol 1.4. */
export interface NotifyStack {
  stack: Stack;
  logs: string[];
  /** Opens a WebSocket session and sends server.version as `clientName`. */
  wallet(clientName: string): Promise<WalletSocket>;
  /** Closes every wallet opened so far (their sessions may then hibernate). */
  closeWallets(): void;
  /** Closes every wallet it opened, then stops the stack. */
  stop(): Promise<void>;
}

/**
 * Starts the stack with notices pushed by the stack itself; on failure prints its last log lines.
 * `workerVars` adds to LOG_LEVEL=debug (the tests read the Worker's notify lines).
 */
export async function startNotifyStack(
  workerVars: Record<string, string> = {}
): Promise<NotifyStack> {
  const logs: string[] = [];
  const open: WalletSocket[] = [];
  const stack = await startStack({
    chainFile: NOTIFY_CHAIN_FILE,
    coin: NOTIFY_COIN.name,
    net: NOTIFY_COIN.net,
    notify: 'stack',
    indexerEnv: indexerEnv(100),
    workerVars: { LOG_LEVEL: 'debug', ...workerVars },
    onLog: (line) => logs.push(line),
  }).catch((error: unknown) => {
    console.error(logs.slice(-60).join('\n'));
    throw error;
  });
  const closeWallets = (): void => {
    for (const socket of open.splice(0)) socket.close();
  };
  return {
    stack,
    logs,
    wallet: async (clientName) => {
      const socket = await WalletSocket.open(stack.wsUrl);
      open.push(socket);
      await socket.call('server.version', [clientName, '1.4']);
      return socket;
    },
    closeWallets,
    stop: async () => {
      closeWallets();
      await stack.stop();
    },
  };
}
