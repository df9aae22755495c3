/**
 * Errors are values with a code and a message a user can act on. The CLI prints the message on
 * one line and exits with {@link BatonError.exitCode}: 2 for bad input, 1 for operational failure.
 */
export type ErrorKind = 'bad-input' | 'operational';

/** Base error for everything Baton reports to a user. */
export class BatonError extends Error {
  /** Stable machine-readable code, e.g. `unknown-engine`, `downgrade-refused`. */
  readonly code: string;
  readonly kind: ErrorKind;

  constructor(kind: ErrorKind, code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = kind === 'bad-input' ? 'BadInputError' : 'OperationalError';
    this.kind = kind;
    this.code = code;
  }

  /** Process exit code the CLI uses for this error. */
  get exitCode(): 1 | 2 {
    return this.kind === 'bad-input' ? 2 : 1;
  }
}

/** Input the user can fix: unknown engine, unparsable version, downgrade, malformed file. Exit 2. */
export class BadInputError extends BatonError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super('bad-input', code, message, options);
  }
}

/** Something went wrong while talking to a cluster or the journal. Exit 1. */
export class OperationalError extends BatonError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super('operational', code, message, options);
  }
}

/** A write lost an optimistic-concurrency race; the caller re-reads and retries. */
export class ConflictError extends OperationalError {
  constructor(message: string) {
    super('conflict', message);
  }
}

/** One-line description of any thrown value, for status, events and logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}
