// The history database's tables: what docs/history.md shows, and what the export writes,
// column for column. Times are ISO 8601 UTC text (they sort as they read); speeds are in
// the row's `unit`. A schema change is a new entry at the end of SCHEMA: a database is
// brought up to date from its `user_version` when the agent opens it.

export const SCHEMA = [
  `CREATE TABLE crossings (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    pts REAL NOT NULL,
    line TEXT NOT NULL,
    direction TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    class_name TEXT NOT NULL,
    speed REAL,
    unit TEXT,
    error_estimate REAL,
    evidence TEXT
  );
  CREATE INDEX crossings_time ON crossings (time);
  CREATE TABLE zone_events (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    pts REAL NOT NULL,
    zone TEXT NOT NULL,
    event TEXT NOT NULL,
    track_id INTEGER NOT NULL,
    class_name TEXT NOT NULL,
    dwell_s REAL,
    speed REAL,
    unit TEXT,
    error_estimate REAL,
    evidence TEXT
  );
  CREATE INDEX zone_events_time ON zone_events (time);
  CREATE TABLE line_stats (
    id INTEGER PRIMARY KEY,
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    line TEXT NOT NULL,
    direction TEXT NOT NULL,
    class_name TEXT NOT NULL,
    count INTEGER NOT NULL,
    speed_mean REAL,
    speed_p85 REAL,
    speed_max REAL,
    speed_samples INTEGER,
    speed_histogram TEXT,
    over_limit INTEGER,
    unit TEXT NOT NULL,
    speed_bin REAL NOT NULL
  );
  CREATE INDEX line_stats_start ON line_stats (start);
  CREATE TABLE zone_stats (
    id INTEGER PRIMARY KEY,
    start TEXT NOT NULL,
    end TEXT NOT NULL,
    zone TEXT NOT NULL,
    occupancy_peak INTEGER NOT NULL,
    occupancy_mean REAL NOT NULL,
    entered INTEGER NOT NULL,
    dwell_mean_s REAL,
    speed_mean REAL,
    speed_p85 REAL,
    speed_max REAL,
    speed_samples INTEGER,
    speed_histogram TEXT,
    over_limit INTEGER,
    unit TEXT NOT NULL
  );
  CREATE INDEX zone_stats_start ON zone_stats (start);`,
  `CREATE TABLE shape_changes (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    change TEXT NOT NULL,
    points TEXT
  );
  CREATE INDEX shape_changes_time ON shape_changes (time);`,
  // The event id of the MQTT message each row came from (a stats message gives several rows).
  `ALTER TABLE crossings ADD COLUMN event_id TEXT;
  ALTER TABLE zone_events ADD COLUMN event_id TEXT;
  ALTER TABLE line_stats ADD COLUMN event_id TEXT;
  ALTER TABLE zone_stats ADD COLUMN event_id TEXT;
  CREATE INDEX crossings_event ON crossings (event_id);
  CREATE INDEX zone_events_event ON zone_events (event_id);`,
];

const SPEED_STATS = ['speed_mean', 'speed_p85', 'speed_max', 'speed_samples', 'speed_histogram', 'over_limit'] as const;

/** Every column of each table, in order (the export's columns). */
export const COLUMNS = {
  crossings: ['id', 'time', 'pts', 'line', 'direction', 'track_id', 'class_name', 'speed', 'unit', 'error_estimate', 'evidence', 'event_id'],
  zone_events: ['id', 'time', 'pts', 'zone', 'event', 'track_id', 'class_name', 'dwell_s', 'speed', 'unit', 'error_estimate', 'evidence', 'event_id'],
  line_stats: ['id', 'start', 'end', 'line', 'direction', 'class_name', 'count', ...SPEED_STATS, 'unit', 'speed_bin', 'event_id'],
  zone_stats: ['id', 'start', 'end', 'zone', 'occupancy_peak', 'occupancy_mean', 'entered', 'dwell_mean_s', ...SPEED_STATS, 'unit', 'event_id'],
  shape_changes: ['id', 'time', 'kind', 'name', 'change', 'points'],
} as const;

export type TableName = keyof typeof COLUMNS;
export type Row = Record<string, string | number | bigint | null | undefined | number[] | Uint8Array>;

/** The export's names for the tables (`edgecam export KIND`, `/api/KIND.csv`). */
export const EXPORTS: Record<string, TableName> = { crossings: 'crossings', zones: 'zone_events', stats: 'line_stats', 'zone-stats': 'zone_stats', shapes: 'shape_changes' };
