// Remote commands on `<prefix>set/<setting>`: a small, safe set of settings that can
// change at run time. Each payload is validated by the same schema as the setting it
// changes (so the ranges and forms are the config's); a bad one changes nothing and gets
// an error on `<prefix>set/result`. Nothing else is ever executed.
import { z } from 'zod';
import { configSchema } from '../config/schema.js';
import { booleanValue } from '../config/values.js';
import type { Feature, FeatureContext } from '../feature.js';
import type { PipelineControl } from '../feature.js';
import type { SaveResult, ShapeStore } from '../shapes/index.js';

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
  if (!Object.hasOwn(commandSchemas, setting)) return { setting, ok: false, error: `unknown setting; known: ${[...Object.keys(commandSchemas), ...SHAPE_COMMANDS].join(', ')}` };
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

/** `set/lines`, `set/zones`, `set/masks`: the env setting's text; `set/calibration`: "image points|world points"; empty: none; `set/shapes` `reset`: the env file's again. */
export const SHAPE_COMMANDS = ['lines', 'zones', 'masks', 'calibration', 'shapes'] as const;
const MAX_SHAPES = 65_536;

/** A shape command, saved and applied as a Save from the page is. */
export function runShapeCommand(setting: (typeof SHAPE_COMMANDS)[number], payload: string, shapes: ShapeStore): CommandResult {
  const text = payload.trim();
  if (text.length > MAX_SHAPES) return { setting, ok: false, error: 'payload too large' };
  let result: SaveResult;
  if (setting === 'shapes') {
    if (text !== 'reset') return { setting, ok: false, error: 'expected "reset" (drops the saved shapes: the env file applies again)' };
    result = shapes.reset('mqtt');
  } else if (setting === 'calibration') {
    const [image = '', world = '', ...more] = text.split('|').map((s) => s.trim());
    if (more.length || Boolean(image) !== Boolean(world))
      return { setting, ok: false, error: 'expected "x1,y1;x2,y2;x3,y3;x4,y4|X1,Y1;X2,Y2;X3,Y3;X4,Y4" (image points|metres), or empty for none' };
    result = shapes.save({ CALIBRATION_IMAGE_POINTS: image, CALIBRATION_WORLD_POINTS: world }, 'mqtt');
  } else result = shapes.save({ [setting.toUpperCase()]: text }, 'mqtt');
  return result.ok ? { setting, ok: true, value: text } : { setting, ok: false, error: Object.values(result.errors).join('; ') };
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
        const setting = topic.slice(setPrefix.length);
        const result = (SHAPE_COMMANDS as readonly string[]).includes(setting)
          ? runShapeCommand(setting as (typeof SHAPE_COMMANDS)[number], payload.toString(), ctx.pipeline.shapes)
          : runCommand(setting, payload.toString(), apply);
        log.info({ setting: result.setting, ok: result.ok, error: result.error }, result.ok ? 'remote command applied' : 'remote command refused');
        mqtt.publish(resultTopic, JSON.stringify(result), { qos: 1 });
      });
    },
    stop: () => {},
  };
}
