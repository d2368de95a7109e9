// Reads settings from the process environment and an env file, validates them
// against the schema, and resolves them into the typed Config the stages use.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { defaultClientId, defaultDeviceId, machineTag } from './identity.js';
import { readManifest } from '../detect/manifest.js';
import { resolveAnalytics, type AnalyticsConfig } from './analytics.js';

export type { AnalyticsConfig, CountingLine } from './analytics.js';

import { configSchema, RENAMED_SETTINGS, SECRET_KEYS, SETTING_NAMES, type RawConfig, type SettingName } from './schema.js';
import { UserError } from '../errors.js';
import { redactUrl } from '../log.js';
import { BUNDLED_MODELS, BUNDLED_SAMPLE, modelPath } from '../paths.js';
import { checkRpicamPath, checkStateDir, isTestPattern, LAVFI_SOURCES, malformedLines, resolveHttpBind } from './checks.js';
import type { Point } from '../track/homography.js';
import { resolveCalibration } from './calibration.js';
import { overlayShapes, readSavedShapes, savesCalibration, SHAPE_KEYS, SHAPES_FILE, type ShapeSources } from './saved.js';
import { resolveShapes } from './shapes.js';

import type { SourceKind } from '../ffmpeg/inputs.js';

export type { SourceKind };

export interface Config extends Omit<
  RawConfig,
  'SOURCE' | 'SOURCE_LOOP' | 'MODEL' | 'MQTT_CLIENT_ID' | 'CALIBRATION_IMAGE_POINTS' | 'CALIBRATION_WORLD_POINTS' | 'DEVICE_ID' | 'SCORE_THRESHOLD' | 'NMS_IOU'
> {
  /** SCORE_THRESHOLD, else the model manifest's, else 0.3. */
  SCORE_THRESHOLD: number;
  /** NMS_IOU, else the model manifest's, else 0.4. */
  NMS_IOU: number;
  DEVICE_ID: string;
  /** LINES, ZONES, MASKS and the filters, parsed. */
  ANALYTICS: AnalyticsConfig;
  /** Where the ground-plane calibration comes from; `none`: no speeds. */
  CALIBRATION: 'points' | 'meters per pixel' | 'bundled sample' | 'none';
  /** Six hex digits unique to this machine (see identity.ts). */
  MACHINE_TAG: string;
  CALIBRATION_IMAGE_POINTS?: Point[];
  CALIBRATION_WORLD_POINTS?: Point[];
  SOURCE: string;
  SOURCE_KIND: SourceKind;
  SOURCE_LOOP: boolean;
  MODEL: string;
  MQTT_CLIENT_ID: string;
  /** Where LINES, ZONES, MASKS and the calibration came from: the env file, and the shapes saved in STATE_DIR over it. */
  SHAPES: ShapeSources;
}

export class ConfigError extends UserError {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** An explicit env file; it must exist. */
  envFile?: string;
  /** Where `.env` is looked for when no env file is given. */
  cwd?: string;
}

/** Collects values from the env file (if any) with the process environment taking precedence. */
export function readSettings(options: LoadOptions = {}): { values: Record<string, string>; problems: string[]; notices: string[] } {
  const env = options.env ?? process.env;
  const problems: string[] = [];
  const notices: string[] = [];
  const values: Record<string, string> = {};
  // A renamed setting is read under its new name; the new name wins when both are given.
  const take = (key: string, value: string, where: string) => {
    const renamed = RENAMED_SETTINGS[key];
    if (!renamed) return void (values[key] = value);
    notices.push(`${key}${where} is now ${renamed}; the old name is still read, rename it when convenient`);
    const given = where ? fromFile?.[renamed] : env[renamed];
    if (given === undefined) values[renamed] = value;
  };
  const file = options.envFile ?? join(options.cwd ?? process.cwd(), '.env');
  let fromFile: Record<string, string> | undefined;
  if (options.envFile && !existsSync(file)) problems.push(`--env-file ${file}: no such file (give the path of an env file such as .env.example)`);
  else if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    const bad = malformedLines(text);
    for (const line of bad) problems.push(`${file}:${line}: expected NAME=value (or a # comment)`);
    // The rest is read without the bad lines, which Node's parser would join to the next one.
    const lines = text.split(/\r?\n/);
    fromFile = parseEnv(lines.map((line, i) => (bad.includes(i + 1) ? '' : line)).join('\n')) as Record<string, string>;
    for (const [key, value] of Object.entries(fromFile)) {
      if (!(SETTING_NAMES as string[]).includes(key) && !RENAMED_SETTINGS[key]) problems.push(`${key} in ${file}: unknown setting${suggest(key)}`);
      else take(key, value, ` in ${file}`);
    }
  }
  for (const key of Object.keys(RENAMED_SETTINGS)) {
    const value = env[key];
    if (value !== undefined) take(key, value, '');
  }
  for (const key of SETTING_NAMES) {
    const value = env[key];
    if (value !== undefined) values[key] = value;
  }
  // systemd LoadCredential=: secrets as files, used when the variable itself is unset.
  const credentials = env.CREDENTIALS_DIRECTORY;
  for (const [key, file] of [
    ['MQTT_PASSWORD', 'mqtt_password'],
    ['MQTT_EMBEDDED_PASSWORD', 'mqtt_embedded_password'],
  ] as const) {
    if (credentials && values[key] === undefined && existsSync(join(credentials, file))) values[key] = readFileSync(join(credentials, file), 'utf8').replace(/\r?\n$/, '');
  }
  for (const [key, file] of [
    ['MQTT_CA_FILE', 'mqtt_ca'],
    ['MQTT_CERT_FILE', 'mqtt_cert'],
    ['MQTT_KEY_FILE', 'mqtt_key'],
  ] as const) {
    if (credentials && values[key] === undefined && existsSync(join(credentials, file))) values[key] = join(credentials, file);
  }
  for (const [key, value] of Object.entries(values)) if (value.trim() === '') delete values[key];
  return { values, problems, notices };
}

const NOTICES = new WeakMap<Config, string[]>();

/** Warnings about the settings a config was loaded from (renamed settings), for the log. */
export function configNotices(config: Config): string[] {
  return NOTICES.get(config) ?? [];
}

export function loadConfig(options: LoadOptions = {}): Config {
  const { values: env, problems, notices } = readSettings(options);
  const cwd = options.cwd ?? process.cwd();
  // Shapes saved from the viewer or over MQTT override the env file's.
  const stateDir = resolve(cwd, env.STATE_DIR ?? (configSchema.shape.STATE_DIR.parse(undefined) as string));
  const sources: ShapeSources = { file: join(stateDir, SHAPES_FILE), env: Object.fromEntries(SHAPE_KEYS.flatMap((k) => (env[k] === undefined ? [] : [[k, env[k]]]))) };
  const read = readSavedShapes(stateDir);
  let saved = read.saved;
  if (read.problem) notices.push(read.problem);
  let values = env;
  if (saved) {
    const overlaid = overlayShapes(env, saved.settings);
    const refused = Object.values(resolveShapes(overlaid, undefined).problems);
    if (refused.length) {
      notices.push(`${sources.file}: saved shapes not used (${refused.join('; ')}); the env file's are`);
      saved = undefined;
    } else values = overlaid;
  }
  sources.saved = saved;
  const parsed = configSchema.safeParse(values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0]) as SettingName;
      const raw = values[key];
      const shown = raw === undefined ? '' : SECRET_KEYS.has(key) ? '=<redacted>' : `=${JSON.stringify(redactUrl(raw))}`;
      problems.push(`${key}${shown}: ${issue.message} (example: ${key}=${exampleOf(key)})`);
    }
  }
  if (problems.length || !parsed.success) throw new ConfigError(problems);
  const config = resolveConfig(parsed.data, problems, cwd, sources, env.METERS_PER_PIXEL);
  NOTICES.set(config, notices);
  return config;
}

function resolveConfig(raw: RawConfig, problems: string[], cwd: string, shapes: ShapeSources, envMetersPerPixel: string | undefined): Config {
  const source = raw.SOURCE ?? BUNDLED_SAMPLE;
  const kind = sourceKind(source);
  if (kind === 'file') {
    const path = source.startsWith('file://') ? new URL(source).pathname : source;
    if (!existsSync(path))
      problems.push(`SOURCE=${JSON.stringify(source)}: no such file (give a video file, an rtsp:// or http:// URL, or /dev/video0; example: SOURCE=${exampleOf('SOURCE')})`);
    else if (!statSync(path).isFile()) problems.push(`SOURCE=${JSON.stringify(source)}: not a regular file (example: SOURCE=/home/pi/clip.mp4)`);
  } else if (kind === 'lavfi' && !raw.SOURCE_LAVFI_UNRESTRICTED && !isTestPattern(source.slice('lavfi:'.length))) {
    problems.push(
      `SOURCE=${JSON.stringify(source)}: only one test-pattern filter is accepted (${LAVFI_SOURCES.join(', ')}), e.g. SOURCE=lavfi:testsrc2=size=1280x720:rate=15; set SOURCE_LAVFI_UNRESTRICTED=true for any filter graph (filters can read and write files)`,
    );
  } else if (kind === 'stream' && !/^(rtmps?|srt|udp|tcp):\/\//.test(source)) {
    problems.push(`SOURCE=${JSON.stringify(redactUrl(source))}: unsupported URL scheme (use rtsp://, rtsps://, http://, https://, rtmp://, srt:// or udp://)`);
  }
  checkRpicamPath(raw.RPICAM_PATH, kind, problems);
  const model = modelPath(raw.MODEL, cwd);
  const stateDir = resolve(cwd, raw.STATE_DIR);
  checkStateDir(stateDir, problems);
  const deviceId = raw.DEVICE_ID ?? defaultDeviceId(raw.INSTANCE);
  for (const key of ['MQTT_CA_FILE', 'MQTT_CERT_FILE', 'MQTT_KEY_FILE'] as const) {
    const file = raw[key];
    if (file && !existsSync(file)) problems.push(`${key}=${JSON.stringify(file)}: no such file (give a PEM file; example: ${key}=${exampleOf(key)})`);
  }
  if (Boolean(raw.MQTT_EMBEDDED_USERNAME) !== Boolean(raw.MQTT_EMBEDDED_PASSWORD)) {
    problems.push('MQTT_EMBEDDED_USERNAME and MQTT_EMBEDDED_PASSWORD go together (example: MQTT_EMBEDDED_USERNAME=homeassistant MQTT_EMBEDDED_PASSWORD=s3cret)');
  }
  if (Boolean(raw.MQTT_CERT_FILE) !== Boolean(raw.MQTT_KEY_FILE)) problems.push('MQTT_CERT_FILE and MQTT_KEY_FILE go together: a client certificate needs its key');
  if (!existsSync(model))
    problems.push(
      `MODEL=${JSON.stringify(raw.MODEL)}: no such file (give a bundled model's name, ${['centernet', ...Object.keys(BUNDLED_MODELS)].join(', ')}, or the path of an .onnx model; example: MODEL=${exampleOf('MODEL')})`,
    );
  if (raw.MODEL_LABELS && !existsSync(raw.MODEL_LABELS))
    problems.push(`MODEL_LABELS=${JSON.stringify(raw.MODEL_LABELS)}: no such file (give a text file with one class name per line)`);
  const calibration = resolveCalibration(raw, problems);
  // The model's own thresholds are the defaults when the settings leave them empty.
  let manifest: { scoreThreshold?: number; nmsIou?: number } | undefined;
  try {
    manifest = existsSync(model) ? readManifest(model) : undefined;
  } catch (err) {
    problems.push((err as Error).message);
  }
  const analytics = resolveAnalytics(raw, problems);
  // The bundled sample ships with its calibration, so the first run shows true speeds.
  const sample = source === BUNDLED_SAMPLE ? sampleCalibration() : undefined;
  const sampleScale = !raw.CALIBRATION_IMAGE_POINTS && raw.METERS_PER_PIXEL === undefined && !savesCalibration(shapes.saved?.settings) ? sample : undefined;
  // Used again when the saved calibration is dropped: the env file's scale, else the sample's.
  shapes.envMetersPerPixel = envMetersPerPixel !== undefined ? Number(envMetersPerPixel) : !shapes.env.CALIBRATION_IMAGE_POINTS ? sample : undefined;
  const tag = problems.length ? '' : machineTag(stateDir);
  const httpBind = resolveHttpBind(raw, problems);
  if (problems.length) throw new ConfigError(problems);
  const { CALIBRATION_IMAGE_POINTS: _image, CALIBRATION_WORLD_POINTS: _world, ...rest } = raw;
  return {
    ...rest,
    ...calibration,
    ANALYTICS: analytics,
    SCORE_THRESHOLD: raw.SCORE_THRESHOLD ?? manifest?.scoreThreshold ?? 0.3,
    NMS_IOU: raw.NMS_IOU ?? manifest?.nmsIou ?? 0.4,
    METERS_PER_PIXEL: raw.METERS_PER_PIXEL ?? sampleScale,
    CALIBRATION: calibration.CALIBRATION_IMAGE_POINTS ? 'points' : raw.METERS_PER_PIXEL !== undefined ? 'meters per pixel' : sampleScale ? 'bundled sample' : 'none',
    SOURCE: source,
    SOURCE_KIND: kind,
    HTTP_BIND: httpBind,
    STATE_DIR: stateDir,
    DEVICE_ID: deviceId,
    TOPIC_PREFIX: raw.TOPIC_PREFIX.replaceAll('{device}', deviceId),
    SOURCE_LOOP: raw.SOURCE_LOOP === 'auto' ? source === BUNDLED_SAMPLE : raw.SOURCE_LOOP === 'true',
    MODEL: model,
    MACHINE_TAG: tag,
    MQTT_CLIENT_ID: raw.MQTT_CLIENT_ID ?? defaultClientId(deviceId, tag),
    SHAPES: shapes,
  };
}

/** METERS_PER_PIXEL of the bundled sample, from models/sample.json beside it. */
function sampleCalibration(): number | undefined {
  try {
    const sample = JSON.parse(readFileSync(BUNDLED_SAMPLE.replace(/\.mp4$/, '.json'), 'utf8')) as { calibration?: { METERS_PER_PIXEL?: number } };
    return sample.calibration?.METERS_PER_PIXEL;
  } catch {
    return undefined;
  }
}

export function sourceKind(source: string): SourceKind {
  if (source.startsWith('lavfi:')) return 'lavfi';
  if (/^rpicam(:\d)?$/.test(source)) return 'rpicam';
  if (/^rtsps?:\/\//i.test(source)) return 'rtsp';
  if (/^https?:\/\//i.test(source)) return 'http';
  if (source.startsWith('/dev/')) return 'v4l2';
  if (/^file:\/\//i.test(source) || !/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return 'file';
  return 'stream';
}

function exampleOf(key: SettingName): string {
  const meta = configSchema.shape[key].meta() as { examples?: string[] } | undefined;
  return meta?.examples?.[0] ?? '';
}

function suggest(key: string): string {
  const close = SETTING_NAMES.filter((name) => editDistance(name, key.toUpperCase()) <= 2);
  return close.length ? ` (did you mean ${close.join(' or ')}?)` : ` (known settings are listed in .env.example)`;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length]![b.length]!;
}

/** The effective configuration for display: secrets and URL credentials redacted. */
export function redactedConfig(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(config)) {
    if (SECRET_KEYS.has(key)) out[key] = value === undefined ? undefined : '<redacted>';
    else if (typeof value === 'string') out[key] = redactUrl(value);
    else out[key] = value;
  }
  return out;
}
