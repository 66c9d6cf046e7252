// What a CLI command may touch: its output streams, its environment and who runs it.

/** The process around a command; tests pass their own to capture output. */
export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: Record<string, string | undefined>;
  /** The effective user id (`process.getuid()`); undefined where the platform has none. */
  uid: number | undefined;
  /** Clock, for tests of expiry and backup age. */
  now(): Date;
}

/** The real process: stdout, stderr, process.env, the current uid and clock. */
export function processIo(): CliIo {
  return {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    env: process.env,
    uid: process.getuid?.(),
    now: () => new Date(),
  };
}
