// Starts worker threads from this folder's TypeScript modules, in development and in production.
import { Worker } from 'node:worker_threads';

/**
 * Starts `moduleUrl` in a new worker thread. Under tsx or vitest the module is TypeScript, and on
 * Node 20 a worker does not inherit the parent's loader hooks (measured here: `new Worker('x.ts')`
 * fails with "Unknown file extension" even under `tsx`, also with `execArgv: ['--import', 'tsx']`).
 * So the thread first registers tsx's ESM hooks for itself, then imports the module. A compiled
 * `.js` module starts directly.
 */
export function spawnModuleThread(moduleUrl: URL, workerData: unknown): Worker {
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, { workerData });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
