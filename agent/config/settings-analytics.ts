// The settings of counting lines, zones, masks, false-positive filters and interval
// statistics. Shapes are validated here (grammar, point counts, names) and parsed into
// their typed form by the config's resolution.
import { z } from 'zod';
import { bool, number, optionalString } from './values.js';
import { parseShapes } from '../geometry.js';

/** `class:score,class:score`, each score 0..1 ("none": no pairs). */
function scoresRefinement(v: string | undefined, ctx: z.RefinementCtx): void {
  if (v === undefined || v === 'none') return;
  const pairs = parsePairs(v, ',');
  if (typeof pairs === 'string') return void ctx.addIssue({ code: 'custom', message: `${pairs}; write class:score,class:score` });
  for (const [cls, score] of pairs) if (!/^(0(\.\d+)?|1(\.0+)?)$/.test(score)) ctx.addIssue({ code: 'custom', message: `${cls}: "${score}" is not a score between 0 and 1` });
}

export const LINE_GRAMMAR = { minPoints: 2, maxPoints: 2 } as const;
/** One speed trap: name:first,second,metres. */
export const TRAP = /^[A-Za-z0-9_-]{1,32}:[A-Za-z0-9_-]{1,32},[A-Za-z0-9_-]{1,32},\d+(\.\d+)?$/;
export const ZONE_GRAMMAR = { minPoints: 3 } as const;
export const MASK_GRAMMAR = { minPoints: 3, namePrefix: 'mask', classPrefix: true } as const;

const shapes = (grammar: Parameters<typeof parseShapes>[1]) =>
  optionalString().superRefine((v, ctx) => {
    if (v === undefined) return;
    const parsed = parseShapes(v, grammar);
    if (typeof parsed === 'string') ctx.addIssue({ code: 'custom', message: parsed });
  });

/** `name:a,b|name:a,b`, or `class:0.4,class:0.3`: pairs of a name and a value. */
export function parsePairs(text: string, separator: string): [string, string][] | string {
  const out: [string, string][] = [];
  for (const item of text
    .split(separator)
    .map((s) => s.trim())
    .filter(Boolean)) {
    const colon = item.lastIndexOf(':');
    if (colon <= 0) return `"${item}" is not name:value`;
    out.push([item.slice(0, colon).trim(), item.slice(colon + 1).trim()]);
  }
  return out;
}

export const analyticsSettings = {
  LINES: shapes(LINE_GRAMMAR)
    .describe(
      'Counting lines in source-frame pixels, "name:x1,y1;x2,y2|name:...". An object is counted once when its anchor (box bottom-centre) crosses the segment and gets LINE_HYSTERESIS pixels beyond it. Direction: standing on the first point facing the second, left to right is the first direction. Lines saved from the viewer or by set/lines (STATE_DIR/shapes.json) override this; see docs/viewer.md.',
    )
    .meta({ examples: ['middle:480,520;480,60'] }),
  LINE_DIRECTIONS: optionalString()
    .superRefine((v, ctx) => {
      if (v === undefined) return;
      const pairs = parsePairs(v, '|');
      if (typeof pairs === 'string') return ctx.addIssue({ code: 'custom', message: `${pairs}; write line:first,second` });
      for (const [, names] of pairs) if (!/^[A-Za-z0-9_-]+,[A-Za-z0-9_-]+$/.test(names)) ctx.addIssue({ code: 'custom', message: `"${names}": expected two names, first,second` });
    })
    .describe('Names of each line\'s two directions, "line:first,second|..." (default in,out). first: crossing from left to right of the line\'s first→second point.')
    .meta({ examples: ['middle:eastbound,westbound'] }),
  SPEED_TRAPS: optionalString()
    .superRefine((v, ctx) => {
      if (v === undefined) return;
      for (const item of v.split('|').map((t) => t.trim()))
        if (!TRAP.test(item))
          ctx.addIssue({ code: 'custom', message: `"${item}": expected name:first,second,metres (two lines of LINES and the distance between them along the road)` });
    })
    .describe(
      'Speed traps, "name:first,second,metres|...": two lines of LINES and the distance between them along the road (count the dashes of a lane line: 9 m a dash and its gap on UK and many European high-speed roads). An object that crosses both, in either order, gets speed = metres ÷ the time between the crossings on its second crossing\'s message, in place of the calibrated speed: right on curved or sloping roads where one four-point calibration is not, and without one.',
    )
    .meta({ examples: ['lane1:entry,exit,45'] }),
  LINE_HYSTERESIS: number({ min: 0, max: 1000 })
    .default(10)
    .describe('Pixels (source frame) an anchor must get beyond a line before the crossing counts: jitter across the line never counts.')
    .meta({ examples: ['20'] }),
  ZONES: shapes(ZONE_GRAMMAR)
    .describe(
      'Zones in source-frame pixels, "name:x1,y1;x2,y2;x3,y3;...|name:..." (3 points or more, any shape). Occupancy per class, entered/left events and dwell times. Saved zones (viewer, set/zones) override this.',
    )
    .meta({ examples: ['right:640,40;940,40;940,530;640,530'] }),
  MASKS: shapes(MASK_GRAMMAR)
    .describe(
      'Areas whose detections are ignored before tracking (by anchor), "x1,y1;x2,y2;x3,y3|...", optionally named (name:...) and for some classes only (person+dog@x1,y1;...). Saved masks (viewer, set/masks) override this.',
    )
    .meta({ examples: ['sign:1500,200;1600,200;1600,500;1500,500|person@0,0;400,0;400,300'] }),
  SCORE_THRESHOLDS: optionalString()
    .superRefine((v, ctx) => scoresRefinement(v, ctx))
    .describe('Minimum score per class, "class:score,class:score", beside SCORE_THRESHOLD for the others.')
    .meta({ examples: ['person:0.45,car:0.35'] }),
  MIN_BOX_AREA: number({ min: 0 })
    .default(0)
    .describe('Detections with a smaller box (source pixels², width × height) are ignored before tracking. 0: no limit.')
    .meta({ examples: ['400'] }),
  MAX_BOX_AREA: number({ min: 0 })
    .default(0)
    .describe('Detections with a larger box (source pixels²) are ignored before tracking. 0: no limit.')
    .meta({ examples: ['500000'] }),
  TRACK_CONFIRM: z
    .string()
    .regex(/^\d+\/\d+$/, { error: 'expected N/M, e.g. 3/5' })
    .refine((v) => {
      const [n, m] = v.split('/').map(Number);
      return n! >= 1 && m! >= n! && m! <= 30;
    }, 'expected 1 ≤ N ≤ M ≤ 30')
    .default('2/3')
    .describe(
      'An object is reported (class counts, lines, zones, speeds) once its track was detected in N of its first M processed frames; until then, and if it never is, it is not. 1/1 reports every detection.',
    )
    .meta({ examples: ['2/3'] }),
  RIDER_SPEED: number({ min: 0, max: 200 })
    .default(25)
    .describe(
      "km/h, whatever SPEED_UNIT: with a calibration, a person moving faster than this is a rider and is counted and reported as a bicycle (a motorcycle above 40 km/h); a person riding a bicycle or motorcycle box is counted as that two-wheeler at any speed. Above what runners reach and below what riders do; 0: riders only by their two-wheeler's box.",
    )
    .meta({ examples: ['20'] }),
  TRACK_STILL_SCORE: number({ min: 0, max: 1 })
    .default(0.45)
    .describe(
      'Track-level truth: a track that has not moved half its height since it was first seen is reported only once the median of its recent scores reaches this (a stone or a post the model mistakes for a person never moves and scores low). A track that moves is reported at once; once reported, it stays.',
    )
    .meta({ examples: ['0.5'] }),
  TRACK_STILL_SCORES: optionalString()
    .default('car:0.35,truck:0.35,bus:0.35,motorcycle:0.35,bicycle:0.35')
    .superRefine((v, ctx) => scoresRefinement(v, ctx))
    .describe(
      'TRACK_STILL_SCORE per class, "class:score,class:score": vehicles park, and a parked one scores lower than a person in view. "none": TRACK_STILL_SCORE for every class.',
    )
    .meta({ examples: ['car:0.3,person:0.5'] }),
  TRACK_APPEARANCE_WEIGHT: number({ min: 0, max: 5 })
    .default(1)
    .describe(
      "Weight of the appearance cue (each box's colours, upper and lower half) beside motion when detections are matched to tracks, as BoT-SORT and Deep OC-SORT fuse it: it keeps two people apart when they pass each other. 0: motion alone (ByteTrack).",
    )
    .meta({ examples: ['0'] }),
  TRACK_RELINK: bool(true)
    .describe(
      'A new detection that looks like a track lost within TRACK_LOST_SECONDS, and is where that object could have got to, continues it (one object keeps one id through an occlusion).',
    )
    .meta({ examples: ['false'] }),
  STATS_INTERVAL: number({ min: 10, max: 86400, int: true })
    .default(60)
    .describe('Seconds per statistics interval on <prefix>stats, aligned to the wall clock (60: on each minute).')
    .meta({ examples: ['900'] }),
};
