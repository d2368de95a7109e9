// Remote commands on `<prefix>set/<setting>`: a small, safe set of settings that can
// change at run time. Each payload is validated by the same schema as the setting it
// changes (so the ranges and forms are the config's); a bad one changes nothing and gets
// an error on `<prefix>set/result`. Nothing else is ever executed.
import { z } from 'zod';
import { configSchema } from '../config/schema.js';
import { booleanValue } from '../config/values.js';
import type { Feature, FeatureContext } from '../feature.js';
import type { PipelineControl } from '../feature.js';

export const commandSchemas = {
  score_threshold: configSchema.shape.SCORE_THRESHOLD.unwrap(),
  detect_fps: configSchema.shape.DETECT_FPS,
  classes: configSchema.shape.CLASSES,
  paused: booleanValue(),
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

const MAX_PAYLOAD = 4096;

export function runCommand(setting: string, payload: string, apply: CommandApplier): CommandResult {
  if (!Object.hasOwn(commandSchemas, setting)) return { setting, ok: false, error: `unknown setting; known: ${Object.keys(commandSchemas).join(', ')}` };
  const name = setting as CommandName;
  if (payload.length > MAX_PAYLOAD) return { setting, ok: false, error: 'payload too large' };
  const parsed = commandSchemas[name].safeParse(payload);
  if (!parsed.success) return { setting, ok: false, error: parsed.error.issues.map((i) => i.message).join('; ') };
  try {
    (apply[name] as (v: unknown) => void)(parsed.data);
  } catch (err) {
    return { setting, ok: false, error: (err as Error).message };
  }
  return { setting, ok: true, value: parsed.data };
}

export function appliers(pipeline: PipelineControl): CommandApplier {
  return {
    score_threshold: (v) => pipeline.setScoreThreshold(v),
    detect_fps: (v) => pipeline.setFps(v),
    classes: (v) => pipeline.setClasses(v),
    paused: (v) => pipeline.setPaused(v),
  };
}

export function fromConfig(ctx: FeatureContext): Feature {
  const { mqtt } = ctx;
  const log = ctx.log.child({ feature: 'commands' });
  const apply = appliers(ctx.pipeline);
  const setPrefix = mqtt.topic('set/');
  const resultTopic = mqtt.topic('set/result');
  return {
    name: 'commands',
    start: () => {
      mqtt.subscribe(`${setPrefix}+`, (topic, payload) => {
        if (topic === resultTopic) return;
        const result = runCommand(topic.slice(setPrefix.length), payload.toString(), apply);
        log.info({ setting: result.setting, ok: result.ok, error: result.error }, result.ok ? 'remote command applied' : 'remote command refused');
        mqtt.publish(resultTopic, JSON.stringify(result), { qos: 1 });
      });
    },
    stop: () => {},
  };
}
