// Shapes applied live: the lines, zones, masks and calibration that a Save in the viewer's
// Draw panel or a `set/lines`, `set/zones`, `set/masks`, `set/calibration` command changes
// while the agent runs. A change is checked as the env file's settings are (and against
// the frame and the model's classes, once known), written to STATE_DIR/shapes.json, and
// only then applied: the pipeline's masks and calibration at once, and a `shapes` event
// for the features that count, announce and draw them. A refused or unwritable change
// changes nothing.
import type { Config } from '../config/index.js';
import type { EventBus } from '../bus.js';
import type { Logger } from '../log.js';
import { overlayShapes, savesCalibration, SHAPE_KEYS, shapeOrigins, writeSavedShapes, type SavedShapes, type ShapeKey, type ShapeTexts } from '../config/saved.js';
import { calibrationOf } from '../track/index.js';
import { resolveShapes, type ResolvedShapes, type ShapeContext, type ShapeProblems } from '../config/shapes.js';
import { dirname } from 'node:path';

export type { ResolvedShapes, ShapeProblems };

export type SaveResult = { ok: true } | { ok: false; errors: ShapeProblems };

/** What the page and `GET /api/shapes` show: the shapes in force, their texts and where each comes from. */
export interface ShapesView {
  lines: ResolvedShapes['lines'];
  zones: ResolvedShapes['zones'];
  masks: ResolvedShapes['masks'];
  calibration: { kind: Config['CALIBRATION']; imagePoints?: number[][]; worldPoints?: number[][] };
  texts: ShapeTexts;
  origins: Record<ShapeKey, string>;
  saved?: string;
}

export class ShapeStore {
  private saved: SavedShapes | undefined;
  private current: ResolvedShapes;
  private readonly context: ShapeContext = {};

  constructor(
    private readonly config: Config,
    private readonly bus: EventBus,
    private readonly log: Logger,
    /** Applies a change to the pipeline's own stages, before the features hear of it. */
    private readonly apply: (shapes: ResolvedShapes) => void,
  ) {
    this.saved = config.SHAPES.saved;
    const { lines, zones, masks } = config.ANALYTICS;
    this.current = { lines, zones, masks, calibration: calibrationOf(config) };
  }

  get shapes(): ResolvedShapes {
    return this.current;
  }

  /** The frame size and the model's classes, which a change is then checked against. */
  know(context: ShapeContext): void {
    Object.assign(this.context, context);
  }

  view(): ShapesView {
    const { lines, zones, masks, calibration } = this.current;
    const kind: Config['CALIBRATION'] = calibration.imagePoints
      ? 'points'
      : calibration.metersPerPixel === undefined
        ? 'none'
        : this.config.CALIBRATION === 'bundled sample' && !savesCalibration(this.saved?.settings)
          ? 'bundled sample'
          : 'meters per pixel';
    return {
      lines,
      zones,
      masks,
      calibration: { kind, imagePoints: calibration.imagePoints, worldPoints: calibration.worldPoints },
      texts: this.texts(this.saved?.settings ?? {}),
      origins: shapeOrigins({ ...this.config.SHAPES, saved: this.saved }),
      saved: this.saved?.saved,
    };
  }

  /** Saves and applies `changes` (setting → text; empty: none) over what is saved; `via` is for the log. */
  save(changes: ShapeTexts, via: string): SaveResult {
    const unknown = Object.keys(changes).filter((k) => !(SHAPE_KEYS as readonly string[]).includes(k));
    if (unknown.length) return { ok: false, errors: { lines: `${unknown.join(', ')}: not a shape setting (${SHAPE_KEYS.join(', ')})` } };
    return this.commit({ ...this.saved?.settings, ...changes }, via);
  }

  /** Drops the saved shapes: the env file's apply again. */
  reset(via: string): SaveResult {
    return this.commit(undefined, via);
  }

  private texts(settings: ShapeTexts): ShapeTexts {
    const all = overlayShapes(this.config.SHAPES.env as Record<string, string>, settings);
    return Object.fromEntries(SHAPE_KEYS.flatMap((k) => (all[k] === undefined ? [] : [[k, all[k]]])));
  }

  private commit(settings: ShapeTexts | undefined, via: string): SaveResult {
    const metersPerPixel = savesCalibration(settings) ? undefined : this.config.SHAPES.envMetersPerPixel;
    const { shapes, problems } = resolveShapes(this.texts(settings ?? {}), metersPerPixel, this.context);
    if (!shapes) {
      this.log.info({ via, problems }, 'shapes refused');
      return { ok: false, errors: problems };
    }
    const saved = settings && { saved: new Date().toISOString(), settings };
    try {
      writeSavedShapes(dirname(this.config.SHAPES.file), saved);
    } catch (err) {
      this.log.warn({ via, file: this.config.SHAPES.file, err: (err as Error).message }, 'shapes not saved: nothing changed');
      return { ok: false, errors: { lines: `not saved, nothing changed: ${(err as Error).message}` } };
    }
    this.saved = saved;
    this.current = shapes;
    this.apply(shapes);
    this.bus.emit('shapes', shapes);
    this.log.info(
      {
        via,
        lines: shapes.lines.map((l) => l.name),
        zones: shapes.zones.map((z) => z.name),
        masks: shapes.masks.map((m) => m.name),
        calibrated: Boolean(shapes.calibration.imagePoints ?? shapes.calibration.metersPerPixel),
      },
      saved ? 'shapes saved and applied' : 'saved shapes dropped: the env file applies',
    );
    return { ok: true };
  }
}
