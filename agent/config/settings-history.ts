// The settings of the history store (STATE_DIR/history.sqlite), of what the interval
// statistics add for it (the speed histogram's bins, the speed limit) and of the evidence
// photos (STATE_DIR/evidence/).
import { z } from 'zod';
import { list, number, pictureSizeSetting } from './values.js';

export const historySettings = {
  HISTORY_DAYS: number({ min: 0, max: 3650, int: true })
    .default(90)
    .describe('Days the history (crossings, zone events, interval statistics in STATE_DIR/history.sqlite) is kept; older rows are pruned while running. 0: no history is recorded.')
    .meta({ examples: ['365'] }),
  HISTORY_MAX_MB: number({ min: 1, max: 1_000_000 })
    .default(256)
    .describe('Size bound of the history database, in MB: above it the oldest rows are pruned, whatever their age.')
    .meta({ examples: ['1024'] }),
  SPEED_LIMIT: number({ min: 0, max: 1000 })
    .default(0)
    .describe('Speed limit in SPEED_UNIT: each interval of <prefix>stats counts the crossings above it (over_limit). 0: none.')
    .meta({ examples: ['30'] }),
  STATS_SPEED_BIN: number({ min: 0, max: 100 })
    .default(0)
    .describe('Width of a speed-histogram bin in SPEED_UNIT (16 bins from 0, the last open-ended). 0: 10 km/h, 5 mph or 2 m/s by SPEED_UNIT.')
    .meta({ examples: ['5'] }),
  EVIDENCE_CLASSES: list()
    .default([])
    .describe(
      "Classes whose crossings of a counting line get an evidence photo: the frame at the camera's resolution where the object is best seen near the line, its box, class, speed ± error, direction, line and local time burned in, saved in STATE_DIR/evidence/ and served on /evidence/. Empty: none.",
    )
    .meta({ examples: ['car,truck,bus,motorcycle'] }),
  EVIDENCE_MIN_SPEED: number({ min: 0, max: 1000 })
    .default(0)
    .describe('Only crossings at least this fast (SPEED_UNIT) get an evidence photo (only the speeders). 0: every crossing of EVIDENCE_CLASSES.')
    .meta({ examples: ['35'] }),
  EVIDENCE_BLUR: z
    .enum(['others', 'all', 'none'], { error: 'expected others, all or none' })
    .default('others')
    .describe('People pixelated in an evidence photo: others (every person but its subject), all (the subject too), none.')
    .meta({ examples: ['all'] }),
  EVIDENCE_SIZE: pictureSizeSetting(['source'])
    .default('source')
    .describe("Size of evidence photos: source (the camera's full resolution), or WIDTHxHEIGHT to fit them within (never enlarged).")
    .meta({ examples: ['1280x720'] }),
  EVIDENCE_MAX_MB: number({ min: 1, max: 1_000_000 })
    .default(512)
    .describe('Size bound of STATE_DIR/evidence/, in MB: above it the oldest photos are removed. Photos older than HISTORY_DAYS go too.')
    .meta({ examples: ['2048'] }),
};
