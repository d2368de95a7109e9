/**
 * A mistake the user can fix (bad setting, missing file, unusable model). The CLI
 * prints its message alone, without a stack trace, and exits with EX_CONFIG (78)
 * so that systemd's RestartPreventExitStatus=78 stops a restart loop.
 */
export class UserError extends Error {
  override name = 'UserError';
}

/** A mistake in the command line itself (an unknown command, option or name): EX_USAGE (64). */
export class UsageError extends UserError {
  override name = 'UsageError';
}

export const EX_CONFIG = 78;
export const EX_USAGE = 64;
