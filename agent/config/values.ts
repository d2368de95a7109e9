// The forms a setting's value takes in an env file: booleans, decimal numbers, lists.
import { z } from 'zod';

export const oneOf = (names: readonly string[]) => `expected ${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;

/** true/false, 1/0, yes/no, on/off, in any case. */
export const booleanValue = () =>
  z.preprocess(
    (v) => {
      if (typeof v !== 'string') return v;
      const s = v.trim().toLowerCase();
      if (['true', '1', 'yes', 'on'].includes(s)) return true;
      if (['false', '0', 'no', 'off'].includes(s)) return false;
      return v;
    },
    z.boolean({ error: 'expected true or false' }),
  );

export const bool = (fallback: boolean) => booleanValue().default(fallback);

/** Decimal numbers only: "0x1" or "1e" are not numbers a person means. */
const DECIMAL = /^\s*[-+]?(\d+(\.\d*)?|\.\d+)(e[-+]?\d+)?\s*$/i;

export const number = (opts: { min?: number; max?: number; int?: boolean }) => {
  let n = z.number({ error: (iss) => (iss.input === undefined ? 'required' : 'expected a number') });
  if (opts.int) n = n.int({ error: 'expected a whole number' });
  if (opts.min !== undefined) n = n.min(opts.min, { error: `must be at least ${opts.min}` });
  if (opts.max !== undefined) n = n.max(opts.max, { error: `must be at most ${opts.max}` });
  return z.preprocess((v) => (typeof v === 'string' && DECIMAL.test(v) ? Number(v) : v), n);
};

export const optionalString = () => z.preprocess((v) => (v === '' ? undefined : v), z.string().optional());

export const list = () =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : v,
    z.array(z.string()),
  );

/** `source`, `WIDTHxHEIGHT`, or another of `words`. */
export const pictureSizeSetting = (words: string[]) =>
  z.string().regex(new RegExp(`^(${words.join('|')}|\\d{2,5}x\\d{2,5})$`), { error: `expected ${words.join(', ')} or WIDTHxHEIGHT, e.g. 1280x720` });
