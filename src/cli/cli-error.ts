/**
 * How the CLI ends. A watched run's outcome decides it (0 / 1 / 130, CONTRACT §8); any other
 * failure is a `CliError`: a message for a person (never a stack trace) and its exit code.
 */
export const EXIT = {
  completed: 0,
  failed: 1,
  /** Also the shell's code for Ctrl-C: watching stopped by the user. */
  cancelled: 130,
  /** The request was refused: bad arguments, unknown strategy or run, conflict, credentials. */
  refused: 2,
  /** The server could not be reached, or failed. */
  unreachable: 3,
} as const;

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.refused,
  ) {
    super(message);
  }
}
