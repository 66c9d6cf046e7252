// The result type every `electrum-edge doctor` check returns, and helpers to build them.

/** pass: fine; warn: works but weaker than it should be; fail: unsafe or broken (exit 1). */
export type CheckStatus = 'pass' | 'warn' | 'fail';

/** One line of the doctor's report. */
export interface DoctorCheck {
  /** What was checked, e.g. `RPC_PASSWORD` or `data directory`. */
  item: string;
  status: CheckStatus;
  message: string;
  /** What to do about a warn or fail. */
  fix?: string;
}

export const pass = (item: string, message: string): DoctorCheck => ({
  item,
  status: 'pass',
  message,
});

export const warn = (item: string, message: string, fix: string): DoctorCheck => ({
  item,
  status: 'warn',
  message,
  fix,
});

export const fail = (item: string, message: string, fix: string): DoctorCheck => ({
  item,
  status: 'fail',
  message,
  fix,
});

/** A file mode as `ls -l` users read it, e.g. 0644. */
export function octalMode(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}
