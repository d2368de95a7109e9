// Comparing a secret someone sent with the one configured, in time that does not depend
// on where they differ (HTTP_TOKEN, the embedded broker's passwords).
import { timingSafeEqual } from 'node:crypto';

export function sameSecret(expected: string, given: string | Buffer | undefined): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.isBuffer(given) ? given : Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}
