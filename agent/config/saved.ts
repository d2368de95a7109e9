// Shapes saved from the viewer's Draw panel or over MQTT (set/lines, set/zones, set/masks,
// set/calibration), kept in STATE_DIR/shapes.json: the one place the service may write
// them (/etc/edgecam stays read-only). Each setting saved there overrides the env file's
// (saved empty: none); the others still come from the env file. Saved calibration points
// replace METERS_PER_PIXEL too. Deleting the file (`edgecam shapes --reset`, or "Use the
// env file" on the page) gives the env file the last word again.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const SHAPES_FILE = 'shapes.json';
export const SHAPE_KEYS = ['LINES', 'LINE_DIRECTIONS', 'ZONES', 'MASKS', 'CALIBRATION_IMAGE_POINTS', 'CALIBRATION_WORLD_POINTS'] as const;
export type ShapeKey = (typeof SHAPE_KEYS)[number];
export type ShapeTexts = Partial<Record<ShapeKey, string>>;

/** What the file holds: when it was last saved, and each saved setting's text. */
export interface SavedShapes {
  saved: string;
  settings: ShapeTexts;
}

/** Where the shapes of a config came from: the env file's texts, and the saved ones over them. */
export interface ShapeSources {
  file: string;
  env: ShapeTexts;
  /** METERS_PER_PIXEL of the env file (or the bundled sample's), used while no calibration is saved. */
  envMetersPerPixel?: number;
  saved?: SavedShapes;
}

const MAX_TEXT = 65_536;
const fileSchema = z.object({
  saved: z.string(),
  settings: z.object(Object.fromEntries(SHAPE_KEYS.map((k) => [k, z.string().max(MAX_TEXT).optional()])) as Record<ShapeKey, z.ZodOptional<z.ZodString>>).strict(),
});

/** The saved shapes in `stateDir`, if any. A file that cannot be read is set aside (`.damaged`) and named in `problem`. */
export function readSavedShapes(stateDir: string): { saved?: SavedShapes; problem?: string } {
  const file = join(stateDir, SHAPES_FILE);
  if (!existsSync(file)) return {};
  try {
    return { saved: fileSchema.parse(JSON.parse(readFileSync(file, 'utf8'))) as SavedShapes };
  } catch (err) {
    try {
      renameSync(file, `${file}.damaged`);
    } catch {
      // Left where it is: read again (and refused again) at the next start.
    }
    const why = err instanceof z.ZodError ? 'not the saved shapes' : (err as Error).message.split('\n')[0];
    return { problem: `${file}: unreadable (${why}); set aside as ${SHAPES_FILE}.damaged, the env file's lines, zones, masks and calibration are used` };
  }
}

/**
 * Writes the saved shapes, or removes the file when `saved` is undefined. The new file is
 * written beside the old one, flushed to disk and renamed over it: a failure part way (a
 * full disk) leaves the old file as it was, and throws.
 */
export function writeSavedShapes(stateDir: string, saved: SavedShapes | undefined): void {
  const file = join(stateDir, SHAPES_FILE);
  if (!saved) {
    if (existsSync(file)) unlinkSync(file);
    return;
  }
  const tmp = `${file}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(saved, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // Never created.
    }
    throw err;
  }
  try {
    // The rename itself reaches the disk.
    const dir = openSync(stateDir, 'r');
    fsyncSync(dir);
    closeSync(dir);
  } catch {
    // Not every file system syncs a directory.
  }
}

/** Whether the saved settings hold a calibration (points, or none): it then replaces METERS_PER_PIXEL and the sample's scale. */
export function savesCalibration(settings: ShapeTexts | undefined): boolean {
  return settings?.CALIBRATION_IMAGE_POINTS !== undefined || settings?.CALIBRATION_WORLD_POINTS !== undefined;
}

/** The settings with the saved shapes over them. */
export function overlayShapes(values: Record<string, string>, settings: ShapeTexts): Record<string, string> {
  const out = { ...values };
  for (const key of SHAPE_KEYS) {
    const text = settings[key];
    if (text === undefined) continue;
    if (text.trim() === '') delete out[key];
    else out[key] = text;
  }
  if (savesCalibration(settings)) delete out.METERS_PER_PIXEL;
  // Saved lines without saved directions keep the env file's names for the lines still there.
  if (settings.LINES !== undefined && settings.LINE_DIRECTIONS === undefined && out.LINE_DIRECTIONS) {
    const names = new Set((out.LINES ?? '').split('|').map((item) => item.split(':')[0]!.trim()));
    const kept = out.LINE_DIRECTIONS.split('|').filter((item) => names.has(item.split(':')[0]!.trim()));
    if (kept.length) out.LINE_DIRECTIONS = kept.join('|');
    else delete out.LINE_DIRECTIONS;
  }
  return out;
}

/** Where each shape setting's value comes from, for check-config and the start-up log. */
export function shapeOrigins(sources: ShapeSources): Record<ShapeKey, string> {
  const saved = sources.saved?.settings ?? {};
  return Object.fromEntries(
    SHAPE_KEYS.map((key) => {
      if (saved[key] !== undefined) return [key, `saved ${sources.saved!.saved} in ${sources.file}${saved[key] === '' ? ' (none)' : ''}`];
      return [key, sources.env[key] === undefined ? 'unset' : 'env file or environment'];
    }),
  ) as Record<ShapeKey, string>;
}
