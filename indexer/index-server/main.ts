// Standalone index server beside an existing index: `tsx indexer/index-server/main.ts`.
import { log, setLogLevel } from '../log.ts';
import { optionsFromEnv } from './env-options.ts';
import { startIndexServer } from './server.ts';

async function main(): Promise<void> {
  setLogLevel(process.env['LOG_LEVEL']);
  const server = await startIndexServer(optionsFromEnv(process.env));
  const stop = (signal: string): void => {
    log.info('index_server_stopping', { signal });
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  const detail = error instanceof Error ? error.message : String(error);
  log.error('index_server_failed', { detail });
  process.exitCode = 1;
});
