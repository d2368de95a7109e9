// The settings of the history store (STATE_DIR/history.sqlite) and of what the interval
// statistics add for it: the speed histogram's bins and the speed limit.
import { number } from './values.js';

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
};
