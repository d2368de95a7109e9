/**
 * A mistake the user can fix (bad setting, missing file, unusable model). The CLI
 * prints its message alone, without a stack trace, and exits with EX_CONFIG (78)
 * so that systemd's RestartPreventExitStatus=78 stops a restart loop.
 */
export class UserError extends Error {
  override name = 'UserError';
}

export const EX_CONFIG = 78;
