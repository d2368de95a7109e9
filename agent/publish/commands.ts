// Remote commands on `<prefix>set/<setting>`: a small, safe set of settings that can
// change at run time. Each payload is validated; a bad one changes nothing and gets an
// error on `<prefix>set/result`. Nothing else is ever executed.
import { z } from 'zod';

const number = (min: number, max: number) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v), z.number({ error: 'expected a number' }).min(min, { error: `must be at least ${min}` }).max(max, { error: `must be at most ${max}` }));

export const commandSchemas = {
  score_threshold: number(0, 1),
  detect_fps: number(0.1, 30),
  classes: z.preprocess((v) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : v), z.array(z.string()).max(200)),
  paused: z.preprocess((v) => (typeof v === 'string' ? ({ true: true, false: false, '1': true, '0': false, on: true, off: false } as Record<string, boolean>)[v.trim().toLowerCase()] ?? v : v), z.boolean({ error: 'expected true or false' })),
} as const;

export type CommandName = keyof typeof commandSchemas;
export type CommandValue<K extends CommandName> = z.infer<(typeof commandSchemas)[K]>;

export interface CommandResult {
  setting: string;
  ok: boolean;
  value?: unknown;
  error?: string;
}

/** Applies a validated value; throws an Error whose message is the reply's `error`. */
export type CommandApplier = { [K in CommandName]: (value: CommandValue<K>) => void };

export function runCommand(setting: string, payload: string, apply: CommandApplier): CommandResult {
  if (!Object.hasOwn(commandSchemas, setting)) return { setting, ok: false, error: `unknown setting; known: ${Object.keys(commandSchemas).join(', ')}` };
  const name = setting as CommandName;
  if (payload.length > 4096) return { setting, ok: false, error: 'payload too large' };
  const parsed = commandSchemas[name].safeParse(payload);
  if (!parsed.success) return { setting, ok: false, error: parsed.error.issues.map((i) => i.message).join('; ') };
  try {
    (apply[name] as (v: unknown) => void)(parsed.data);
  } catch (err) {
    return { setting, ok: false, error: (err as Error).message };
  }
  return { setting, ok: true, value: parsed.data };
}
