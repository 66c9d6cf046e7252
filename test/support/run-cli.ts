// Runs the operator's command (`./bin/electrum-edge.js ...`) as a child process with only the
// given environment plus PATH, and collects its exit code and output.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';

const PROJECT_DIR = resolve(import.meta.dirname, '../..');
const BIN = join(PROJECT_DIR, 'bin/electrum-edge.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the command; a run longer than `timeoutMs` is killed (its code is then -1). */
export function runCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000
): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: PROJECT_DIR,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code: code ?? -1, stdout, stderr });
    });
  });
}
