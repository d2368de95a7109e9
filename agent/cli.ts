#!/usr/bin/env node
// edgecam command line: run (default), detect, check-config, calibrate, capacity, shapes, export.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, configNotices, loadConfig, redactedConfig, type Config } from './config/index.js';
import { EX_CONFIG, EX_USAGE, UsageError, UserError } from './errors.js';
import { createLogger, redactUrl, type Logger } from './log.js';
import { packageVersion } from './paths.js';
import { startAgent } from './main.js';
import { detectImages } from './detect/images.js';
import { withFirstFrame } from './capture/probe.js';
import { cameraCommandLine, cameraInputOptions, cameraOptions } from './capture/rpicam.js';
import { calibrationOf, groundMapping } from './track/index.js';
import { calibrationReport, pointsOutsideFrame } from './track/calibrate.js';
import { backupCommand, exportCommand } from './history/export.js';
import { HISTORY_FILE } from './history/index.js';
import { capacityCommand } from './capacity/index.js';
import { shapeOrigins, writeSavedShapes } from './config/saved.js';

const HELP = `edgecam: edge video-analytics telemetry agent

Usage:
  edgecam [run]               run the agent: camera -> detection -> MQTT
  edgecam detect IMAGE...     detect objects in still images; one JSON line per image
  edgecam check-config        validate the configuration and print it, secrets redacted
  edgecam calibrate [--size WxH]
                              print the ground-plane calibration: homography, metres per
                              pixel at the frame corners, speed resolution at DETECT_FPS
                              (the frame size is read from SOURCE unless --size is given)
  edgecam capacity [--seconds S]
                              measure this box: inferences a second of the bundled models at
                              the configured input size and threads (S seconds each, default 3)
                              and the cost of decoding SOURCE; print how many cameras it takes
                              at DETECT_FPS
  edgecam shapes [--reset]    where LINES, ZONES, MASKS and the calibration come from (the env
                              file, or saved from the viewer or over MQTT in STATE_DIR/shapes.json);
                              --reset drops the saved ones (at the agent's next start; the page's
                              "Use env file" applies it at once)
  edgecam export crossings|zones|stats|zone-stats|shapes [--from ISO] [--to ISO]
                 [--line NAME] [--zone NAME] [--class NAME] [--latest N] [--format csv|json]
                              the recorded history to stdout (docs/history.md)
  edgecam backup FILE         a consistent copy of the live history into FILE (a new file)
  edgecam --help | --version

Options:
  --env-file PATH             read settings from PATH (default: ./.env when present);
                              variables already in the environment take precedence

Every setting is an environment variable; see .env.example and docs/configuration.md.
Exit codes: 0 done, 1 runtime failure, 78 configuration error, 64 unknown command, option or name.`;

const COMMANDS = ['run', 'detect', 'check-config', 'calibrate', 'capacity', 'shapes', 'export', 'backup'];

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'env-file': { type: 'string' },
      size: { type: 'string' },
      seconds: { type: 'string' },
      ...Object.fromEntries(['from', 'to', 'line', 'zone', 'class', 'format', 'latest'].map((o) => [o, { type: 'string' } as const])),
      reset: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'v' },
    },
  });
  if (values.help) return (console.log(HELP), 0);
  if (values.version) return (console.log(packageVersion()), 0);
  const [command = 'run', ...args] = positionals;
  const config = () => loadConfig({ envFile: values['env-file'] });

  switch (command) {
    case 'run':
      return run(config());
    case 'check-config': {
      const c = config();
      for (const notice of configNotices(c)) console.error(`edgecam: ${notice}`);
      console.log(JSON.stringify(redactedConfig(c), null, 2));
      printOrigins(c);
      if (c.SOURCE_KIND === 'rpicam')
        console.error(`edgecam: the camera runs as: ${cameraCommandLine(cameraOptions(c), ['ffmpeg', ...cameraInputOptions(), '-i', 'FIFO', '...'])}`);
      console.error('configuration is valid');
      return 0;
    }
    case 'calibrate':
      return calibrate(config(), values.size);
    case 'shapes': {
      const c = config();
      if (values.reset) {
        writeSavedShapes(c.STATE_DIR, undefined);
        console.error(
          `edgecam: ${c.SHAPES.saved ? `removed ${c.SHAPES.file}` : 'no saved shapes'}; the env file's apply from the agent's next start (restart it, or press "Use env file" on its page)`,
        );
        return 0;
      }
      console.log(
        JSON.stringify({ file: c.SHAPES.file, saved: c.SHAPES.saved?.saved ?? null, origins: shapeOrigins(c.SHAPES), settings: c.SHAPES.saved?.settings ?? {} }, null, 2),
      );
      return 0;
    }
    case 'capacity': {
      const seconds = Number(values.seconds ?? 3);
      if (!(seconds >= 1 && seconds <= 60)) throw new UserError(`--seconds ${values.seconds}: expected a number of seconds from 1 to 60, e.g. --seconds 3`);
      const c = config();
      return capacityCommand(c, seconds, createLogger({ level: 'error', pretty: false, destination: process.stderr }));
    }
    case 'export':
      return exportCommand(join(config().STATE_DIR, HISTORY_FILE), args[0], values as Record<string, string | undefined>);
    case 'backup':
      return backupCommand(join(config().STATE_DIR, HISTORY_FILE), args[0]);
    case 'detect': {
      if (!args.length) throw new UserError('edgecam detect: give one or more image files, e.g. edgecam detect photo.jpg');
      const missing = args.filter((f) => !existsSync(f));
      if (missing.length) throw new UserError(`edgecam detect: no such file: ${missing.join(', ')}`);
      const c = config();
      const log = createLogger({ level: c.LOG_LEVEL === 'info' ? 'warn' : c.LOG_LEVEL, pretty: false, destination: process.stderr });
      for await (const line of detectImages(c, args, log)) console.log(JSON.stringify(line));
      return 0;
    }
    default:
      // A mistake in the command line, not in the configuration: EX_USAGE.
      console.error(`edgecam: unknown command "${command}" (commands: ${COMMANDS.join(', ')}; see edgecam --help)`);
      return 64;
  }
}

async function calibrate(config: Config, size: string | undefined): Promise<number> {
  const mapping = groundMapping(calibrationOf(config));
  if (!mapping) throw new UserError('edgecam calibrate: no calibration configured; set CALIBRATION_IMAGE_POINTS and CALIBRATION_WORLD_POINTS (or METERS_PER_PIXEL)');
  let frame: { width: number; height: number };
  if (size) {
    const m = /^(\d+)x(\d+)$/.exec(size);
    if (!m) throw new UserError(`--size ${size}: expected WIDTHxHEIGHT, e.g. --size 1920x1080`);
    frame = { width: Number(m[1]), height: Number(m[2]) };
  } else frame = await probeSourceSize(config);
  console.log(calibrationReport({ mapping, ...frame, fps: config.DETECT_FPS, window: config.SPEED_WINDOW, unit: config.SPEED_UNIT, imagePoints: config.CALIBRATION_IMAGE_POINTS }));
  for (const warning of pointsOutsideFrame(config.CALIBRATION_IMAGE_POINTS, frame.width, frame.height)) console.error(`edgecam: warning: ${warning}`);
  return 0;
}

/** Opens SOURCE just long enough to read one frame's size (10 s at most). */
async function probeSourceSize(config: Config): Promise<{ width: number; height: number }> {
  const log = createLogger({ level: 'error', pretty: false, destination: process.stderr });
  const source = { url: config.SOURCE, kind: config.SOURCE_KIND, loop: false, realtime: false };
  const size = await withFirstFrame({ source, width: 64, height: 64, resize: 'stretch', ffmpegPath: config.FFMPEG_PATH, log }, (f) => ({
    width: f.sourceWidth,
    height: f.sourceHeight,
  }));
  if (!size) throw new UserError('edgecam calibrate: could not read a frame from SOURCE within 10 s; give the frame size with --size WIDTHxHEIGHT');
  return size;
}

async function run(config: Config): Promise<number> {
  const log = createLogger({ level: config.LOG_LEVEL });
  installCrashHandlers(log);
  log.info(
    { version: packageVersion(), arch: process.arch, node: process.version, source: redactUrl(config.SOURCE), model: config.MODEL, calibration: config.CALIBRATION },
    'edgecam starting',
  );
  for (const notice of configNotices(config)) log.warn(notice);
  if (config.SHAPES.saved)
    log.info(
      { file: config.SHAPES.file, saved: config.SHAPES.saved.saved, settings: Object.keys(config.SHAPES.saved.settings) },
      'saved shapes override the env file (edgecam shapes --reset, or "Use env file" on the page, drops them)',
    );
  const agent = await startAgent(config, log);
  // `npm start` in a terminal delivers Ctrl-C twice within milliseconds (the terminal's
  // process group, then npm forwarding it): a repeat counts only after a second.
  let firstSignalAt = 0;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      const now = Date.now();
      if (!firstSignalAt) {
        firstSignalAt = now;
        void agent.stop(signal);
        setTimeout(() => {
          log.error('shutdown took longer than 10 s: exiting');
          process.exit(1);
        }, 10_000).unref();
      } else if (now - firstSignalAt > 1000) {
        log.warn({ signal }, 'second signal: exiting at once');
        process.exit(130);
      }
    });
  }
  const code = await agent.done;
  await new Promise<void>((resolve) => log.flush(() => resolve()));
  return code;
}

/** Where each shape setting that is set comes from: the env file (or environment), or the shapes saved in STATE_DIR. */
function printOrigins(c: Config): void {
  for (const [key, origin] of Object.entries(shapeOrigins(c.SHAPES))) if (origin !== 'unset') console.error(`edgecam: ${key}: ${origin}`);
}

function installCrashHandlers(log: Logger): void {
  const crash = (kind: string) => (err: unknown) => {
    log.fatal({ err }, kind);
    log.flush(() => process.exit(1));
    setTimeout(() => process.exit(1), 1000).unref();
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled promise rejection'));
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ConfigError) {
      for (const problem of err.problems) console.error(`edgecam: ${problem}`);
      process.exit(EX_CONFIG);
    }
    if (err instanceof UserError) {
      console.error(`edgecam: ${redactUrl(err.message)}`);
      process.exit(err instanceof UsageError ? EX_USAGE : EX_CONFIG);
    }
    if (err instanceof Error && 'code' in err && String(err.code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`edgecam: ${err.message} (see edgecam --help)`);
      process.exit(64);
    }
    console.error(`edgecam: ${redactUrl(err instanceof Error ? (err.stack ?? err.message) : String(err))}`);
    process.exit(1);
  },
);
