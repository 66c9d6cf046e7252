#!/usr/bin/env node
// Launcher of the electrum-edge command: registers tsx, then runs cli/main.ts in this process.
import { register } from 'tsx/esm/api';

// Static imports would load before register() runs, so the TypeScript modules come in dynamically.
register();
const { processIo } = await import('../cli/io.ts');
const { main } = await import('../cli/main.ts');
const io = processIo();
try {
  process.exitCode = await main(process.argv.slice(2), io);
} catch (error) {
  // A bug, not a usage error: print the message only; exit 70 (EX_SOFTWARE).
  io.stderr(`electrum-edge: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 70;
}
