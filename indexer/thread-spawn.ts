// Starts worker threads from the indexer's TypeScript modules, in development and in production.
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/** The part of esbuild's API used here. */
interface Bundler {
  buildSync(options: Record<string, unknown>): { outputFiles?: { text: string }[] };
}

// Native addons load from node_modules, never from a bundle.
const EXTERNAL = ['better-sqlite3'];

// Thread code by module URL, bundled once per thread that spawns it.
const bundles = new Map<string, string>();
let bundler: Bundler | null | undefined;

// esbuild as tsx carries it (tsx is a runtime dependency, esbuild only a dev one of ours).
function loadBundler(): Bundler | null {
  if (bundler !== undefined) return bundler;
  try {
    const require = createRequire(import.meta.url);
    const fromTsx = createRequire(require.resolve('tsx/esm/api'));
    bundler = fromTsx('esbuild') as Bundler;
  } catch {
    bundler = null;
  }
  return bundler;
}

/**
 * `moduleUrl` and everything it imports as one CommonJS script for `new Worker(code, { eval })`.
 * import.meta.url is replaced by `moduleUrl` in every bundled module, so only modules in the
 * entry's own folder may resolve files with it (reader-pool.ts next to front-thread.ts). Null
 * when esbuild is not there.
 */
function bundleOf(moduleUrl: URL): string | null {
  const cached = bundles.get(moduleUrl.href);
  if (cached !== undefined) return cached;
  const esbuild = loadBundler();
  if (esbuild === null) return null;
  const path = fileURLToPath(moduleUrl);
  const result = esbuild.buildSync({
    entryPoints: [path],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    write: false,
    external: EXTERNAL,
    define: { 'import.meta.url': JSON.stringify(moduleUrl.href) },
    logLevel: 'silent',
  });
  const text = result.outputFiles?.[0]?.text;
  if (text === undefined) return null;
  // The externals resolve from the module's own place, not from the process's working directory.
  const code =
    `const { createRequire } = require('node:module');\n` +
    `(function (require) {\n${text}\n})(createRequire(${JSON.stringify(path)}));\n`;
  bundles.set(moduleUrl.href, code);
  return code;
}

/**
 * Starts `moduleUrl` in a new worker thread. A compiled `.js` module starts directly. A TypeScript
 * module (under tsx or vitest) is bundled to plain JavaScript with esbuild first: a thread that
 * loads tsx's hooks instead costs ~30 MB more (measured here: three index-server threads, 174 MB
 * against ~80 MB without). On Node 20 a worker does not inherit the parent's loader hooks, so when
 * esbuild is missing the thread registers tsx's hooks itself, then imports the module.
 */
export function spawnModuleThread(
  moduleUrl: URL,
  workerData: unknown,
  options: Omit<WorkerOptions, 'workerData' | 'eval'> = {}
): Worker {
  if (!moduleUrl.pathname.endsWith('.ts')) return new Worker(moduleUrl, { ...options, workerData });
  const code = bundleOf(moduleUrl);
  if (code !== null) return new Worker(code, { ...options, eval: true, workerData });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import(${JSON.stringify(tsxApi)})` +
    `.then((tsx) => { tsx.register(); return import(${JSON.stringify(moduleUrl.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true, workerData });
}
