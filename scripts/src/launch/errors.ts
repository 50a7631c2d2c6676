/** A launcher failure the user can act on: the message says what is wrong and what to do. */
export class LaunchError extends Error {
  override name = 'LaunchError';
  readonly retriable: boolean;
  readonly hint: string | undefined;
  constructor(message: string, opts: { hint?: string; retriable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.hint = opts.hint;
    this.retriable = opts.retriable ?? false;
  }
}
