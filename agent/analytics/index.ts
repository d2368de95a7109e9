// Traffic analytics as a feature: counting lines, zones and interval statistics over the
// pipeline's confirmed tracks. Crossings go out on `<prefix>line/<name>`, running totals
// (kept in STATE_DIR across restarts) retained on `<prefix>line/<name>/totals`, zone
// occupancy retained on `<prefix>zone/<name>` with entered/left on `.../event`, and the
// interval statistics (counts, mean / V85 / max speed, occupancy, dwell) on `<prefix>stats`
// on the wall clock. The viewer hears the same on the bus.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Feature, FeatureContext } from '../feature.js';
import type { Config } from '../config/index.js';
import type { LinePayload, LineTotalsPayload, StatsPayload, ZoneEventPayload, ZonePayload } from '../mqtt/payloads.js';
import { calibrationOf, groundMapping, SPEED_UNITS } from '../track/index.js';
import { Counter, type Crossing, type CounterUpdate, type Occupancy, type ZoneEvent } from './counter.js';
import { DEFAULT_SPEED_BIN, IntervalStats } from './stats.js';
import { round } from '../round.js';

const TOTALS_FILE = 'line-totals.json';
const totalsFile = z.object({ since: z.string(), lines: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.number().int().nonnegative()))) });

/** The speed fields of a crossing or a stay in a zone: speed, unit and error, when measured. */
function speedFields(speed: Crossing['speed']): Pick<LinePayload, 'speed' | 'unit' | 'error_estimate'> {
  return speed ? { speed: round(speed.value, 2), unit: speed.unit as LinePayload['unit'], error_estimate: round(speed.errorEstimate, 2) } : {};
}

export function linePayloadOf(c: Crossing, now = new Date()): LinePayload {
  return {
    line: c.line,
    direction: c.direction,
    track_id: c.trackId,
    class_name: c.className,
    ...speedFields(c.speed),
    pts: round(c.pts, 3),
    timestamp: now.toISOString(),
    ...(c.evidence ? { evidence: c.evidence } : {}),
  };
}

/**
 * The URL path of the evidence photo of a crossing, or of a zone left with a speed, when
 * EVIDENCE_CLASSES and EVIDENCE_MIN_SPEED give it one.
 */
export function evidenceOf(
  e: Pick<Crossing, 'className' | 'trackId' | 'speed'> & ({ line: string } | { zone: string; event: string }),
  config: Pick<Config, 'EVIDENCE_CLASSES' | 'EVIDENCE_MIN_SPEED'>,
  now: Date,
): string | undefined {
  if (!config.EVIDENCE_CLASSES.includes(e.className)) return undefined;
  if ('zone' in e && !(e.event === 'left' && e.speed)) return undefined;
  if (config.EVIDENCE_MIN_SPEED > 0 && !(e.speed && e.speed.value >= config.EVIDENCE_MIN_SPEED)) return undefined;
  return `/evidence/${now.toISOString().replace(/[-:.]/g, '')}-${'zone' in e ? e.zone : e.line}-${e.trackId}.jpg`;
}

export function zoneEventPayloadOf(e: ZoneEvent, now = new Date()): ZoneEventPayload {
  return {
    zone: e.zone,
    event: e.event,
    track_id: e.trackId,
    class_name: e.className,
    ...(e.dwell === undefined ? {} : { dwell_s: round(e.dwell, 1) }),
    ...speedFields(e.speed),
    pts: round(e.pts, 3),
    timestamp: now.toISOString(),
    ...(e.evidence ? { evidence: e.evidence } : {}),
  };
}

export function fromConfig(ctx: FeatureContext): Feature | undefined {
  const { config, bus, mqtt } = ctx;
  const { lines, zones, hysteresis, statsInterval } = config.ANALYTICS;
  if (!lines.length && !zones.length) return undefined;
  const name = 'analytics';
  const log = ctx.log.child({ feature: name });
  const unit = SPEED_UNITS[config.SPEED_UNIT].label;
  const counter = new Counter({
    lines,
    zones,
    hysteresis,
    lostSeconds: config.TRACK_LOST_SECONDS,
    mapping: groundMapping(calibrationOf(config)),
    unit: config.SPEED_UNIT,
    speedWindow: config.SPEED_WINDOW,
  });
  const stats = new IntervalStats(
    lines,
    zones.map((z) => z.name),
    { unit, bin: config.STATS_SPEED_BIN || DEFAULT_SPEED_BIN[unit]!, limit: config.SPEED_LIMIT || undefined },
  );
  // Topics are checked before anything starts.
  for (const l of lines) mqtt.topic(`line/${l.name}/totals`);
  for (const z of zones) mqtt.topic(`zone/${z.name}/event`);

  // Running totals, kept across restarts. A damaged file is set aside and counting starts again.
  const file = join(config.STATE_DIR, TOTALS_FILE);
  let since = new Date().toISOString();
  try {
    if (existsSync(file)) {
      const kept = totalsFile.parse(JSON.parse(readFileSync(file, 'utf8')));
      since = kept.since;
      for (const [line, byDirection] of Object.entries(kept.lines)) {
        if (!lines.some((l) => l.name === line)) continue;
        counter.totals.set(line, new Map(Object.entries(byDirection).map(([d, byClass]) => [d, new Map(Object.entries(byClass))])));
      }
    }
  } catch (err) {
    log.warn({ file, err: (err as Error).message }, 'line totals unreadable: set aside, counting from zero');
    try {
      renameSync(file, `${file}.damaged`);
    } catch {
      // Nothing to set aside.
    }
  }
  const saveTotals = () => {
    const data = {
      since,
      lines: Object.fromEntries([...counter.totals].map(([l, byD]) => [l, Object.fromEntries([...byD].map(([d, byC]) => [d, Object.fromEntries(byC)]))])),
    };
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify(data), { mode: 0o600 });
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      // The counts stay in memory and are sent; only a restart would lose them.
      log.warn({ file, err: (err as Error).message }, 'line totals not saved');
    }
  };

  const totalsPayload = (line: (typeof lines)[number]): LineTotalsPayload => {
    const byDirection = counter.totals.get(line.name);
    return {
      line: line.name,
      directions: Object.fromEntries(
        line.directions.map((d) => {
          const byClass = Object.fromEntries(byDirection?.get(d) ?? []);
          return [d, { total: Object.values(byClass).reduce((a, b) => a + b, 0), classes: byClass }];
        }),
      ),
      since,
      timestamp: new Date().toISOString(),
    };
  };
  const zonePayload = (o: Occupancy): ZonePayload => ({
    zone: o.zone,
    count: o.trackIds.length,
    counts: o.counts,
    track_ids: o.trackIds,
    timestamp: new Date().toISOString(),
  });
  const snapshot = () =>
    bus.emit('analytics', {
      lines: Object.fromEntries(lines.map((l) => [l.name, Object.fromEntries(Object.entries(totalsPayload(l).directions).map(([d, t]) => [d, t.total]))])),
      zones: Object.fromEntries(counter.occupancy().map((o) => [o.zone, o.trackIds.length])),
    });
  const publishRetained = () => {
    for (const l of lines) mqtt.publish(mqtt.topic(`line/${l.name}/totals`), JSON.stringify(totalsPayload(l)), { qos: 1, retain: true });
    for (const o of counter.occupancy()) mqtt.publish(mqtt.topic(`zone/${o.zone}`), JSON.stringify(zonePayload(o)), { qos: 1, retain: true });
  };

  const handle = (u: CounterUpdate) => {
    for (const crossing of u.crossings) {
      const now = new Date();
      const c = { ...crossing, evidence: evidenceOf(crossing, config, now) };
      const payload = linePayloadOf(c, now);
      mqtt.send(`line/${c.line}`, payload);
      stats.crossing(c);
      bus.emit('crossing', { ...c, timestamp: payload.timestamp });
    }
    if (u.crossings.length) {
      saveTotals();
      for (const line of new Set(u.crossings.map((c) => c.line))) {
        const l = lines.find((x) => x.name === line)!;
        mqtt.publish(mqtt.topic(`line/${l.name}/totals`), JSON.stringify(totalsPayload(l)), { qos: 1, retain: true });
      }
    }
    for (const event of u.zoneEvents) {
      const now = new Date();
      const e = { ...event, evidence: evidenceOf(event, config, now) };
      const payload = zoneEventPayloadOf(e, now);
      mqtt.send(`zone/${e.zone}/event`, payload);
      stats.zoneEvent(e);
      bus.emit('zone', { ...e, timestamp: payload.timestamp });
    }
    for (const o of u.occupancy) mqtt.publish(mqtt.topic(`zone/${o.zone}`), JSON.stringify(zonePayload(o)), { qos: 1, retain: true });
    if (u.crossings.length || u.occupancy.length) snapshot();
  };

  const sendStats = (payload: StatsPayload) => {
    mqtt.send('stats', payload);
    bus.emit('stats', payload);
  };
  // Statistics on the wall clock: each interval ends on a multiple of STATS_INTERVAL.
  let intervalStart = new Date();
  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    const ms = statsInterval * 1000;
    const end = Math.floor(Date.now() / ms) * ms + ms;
    timer = setTimeout(() => {
      const endDate = new Date(end);
      sendStats(stats.take(intervalStart, endDate));
      intervalStart = endDate;
      schedule();
    }, end - Date.now());
    timer.unref();
  };

  return {
    name,
    start: () => {
      mqtt.onConnect(publishRetained);
      bus.on(
        'detections',
        (result) => {
          const u = counter.update(result);
          for (const o of u.zones) stats.occupancy(o.zone, o.trackIds.length);
          handle(u);
        },
        name,
      );
      schedule();
      snapshot();
      log.info({ lines: lines.map((l) => l.name), zones: zones.map((z) => z.name), statsInterval }, 'counting lines and zones');
    },
    stop: () => {
      clearTimeout(timer);
      // Crossings waiting for their speed go out now; objects in zones leave; the interval so far is reported.
      handle(counter.flush());
      sendStats(stats.take(intervalStart, new Date()));
    },
  };
}
