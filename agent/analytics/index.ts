// Traffic analytics as a feature: counting lines, zones and interval statistics over the
// pipeline's confirmed tracks. Crossings go out on `<prefix>line/<name>`, running totals
// (kept in STATE_DIR across restarts) retained on `<prefix>line/<name>/totals`, zone
// occupancy retained on `<prefix>zone/<name>` with entered/left on `.../event`, and the
// interval statistics (counts, mean / V85 / max speed, occupancy, dwell) on `<prefix>stats`
// on the wall clock. The viewer hears the same on the bus.
import { randomUUID } from 'node:crypto';
import type { Feature, FeatureContext } from '../feature.js';
import type { Config } from '../config/index.js';
import type { LinePayload, LineTotalsPayload, StatsPayload, ZoneEventPayload, ZonePayload } from '../mqtt/payloads.js';
import { groundMapping, SPEED_UNITS } from '../track/index.js';
import type { ResolvedShapes } from '../config/shapes.js';
import { Counter, type Crossing, type CounterUpdate, type Occupancy, type ZoneEvent } from './counter.js';
import { DEFAULT_SPEED_BIN, IntervalStats } from './stats.js';
import { LineTotals } from './totals.js';
import { round } from '../round.js';

/** The speed fields of a crossing or a stay in a zone: speed, unit and error, when measured. */
function speedFields(speed: Crossing['speed']): Pick<LinePayload, 'speed' | 'unit' | 'error_estimate'> {
  return speed ? { speed: round(speed.value, 2), unit: speed.unit as LinePayload['unit'], error_estimate: round(speed.errorEstimate, 2) } : {};
}

export function linePayloadOf(c: Crossing & { eventId: string }, now = new Date()): LinePayload {
  return {
    line: c.line,
    direction: c.direction,
    track_id: c.trackId,
    class_name: c.className,
    ...speedFields(c.speed),
    ...(c.trap ? { trap: { ...c.trap, seconds: round(c.trap.seconds, 3) } } : {}),
    pts: round(c.pts, 3),
    timestamp: now.toISOString(),
    ...(c.evidence ? { evidence: c.evidence } : {}),
    event_id: c.eventId,
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

export function zoneEventPayloadOf(e: ZoneEvent & { eventId: string }, now = new Date()): ZoneEventPayload {
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
    event_id: e.eventId,
  };
}

export function fromConfig(ctx: FeatureContext): Feature | undefined {
  const { config, bus, mqtt, pipeline } = ctx;
  const { hysteresis, statsInterval } = config.ANALYTICS;
  // Built without lines or zones too: a Save in the viewer or a set/lines command may add them.
  let { lines, zones, calibration } = pipeline.shapes.shapes;
  const name = 'analytics';
  const log = ctx.log.child({ feature: name });
  const unit = SPEED_UNITS[config.SPEED_UNIT].label;
  const counter = new Counter({
    lines,
    traps: config.ANALYTICS.traps,
    zones,
    hysteresis,
    lostSeconds: config.TRACK_LOST_SECONDS,
    mapping: groundMapping(calibration),
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
  const totals = new LineTotals(config.STATE_DIR, log);
  totals.load(
    counter.totals,
    lines.map((l) => l.name),
  );

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
      since: totals.sinceOf(line.name),
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
  const publishTotals = (l: (typeof lines)[number]) => mqtt.publish(mqtt.topic(`line/${l.name}/totals`), JSON.stringify(totalsPayload(l)), { qos: 1, retain: true });
  const publishRetained = () => {
    for (const l of lines) publishTotals(l);
    for (const o of counter.occupancy()) mqtt.publish(mqtt.topic(`zone/${o.zone}`), JSON.stringify(zonePayload(o)), { qos: 1, retain: true });
  };

  const handle = (u: CounterUpdate) => {
    for (const crossing of u.crossings) {
      const now = new Date();
      const c = { ...crossing, evidence: evidenceOf(crossing, config, now), eventId: randomUUID() };
      const payload = linePayloadOf(c, now);
      mqtt.send(`line/${c.line}`, payload);
      stats.crossing(c);
      bus.emit('crossing', { ...c, timestamp: payload.timestamp });
    }
    if (u.crossings.length) {
      totals.save(counter.totals);
      for (const line of new Set(u.crossings.map((c) => c.line))) {
        const l = lines.find((x) => x.name === line);
        if (l) publishTotals(l);
      }
    }
    for (const event of u.zoneEvents) {
      const now = new Date();
      const e = { ...event, evidence: evidenceOf(event, config, now), eventId: randomUUID() };
      const payload = zoneEventPayloadOf(e, now);
      mqtt.send(`zone/${e.zone}/event`, payload);
      stats.zoneEvent(e);
      bus.emit('zone', { ...e, timestamp: payload.timestamp });
    }
    for (const o of u.occupancy) mqtt.publish(mqtt.topic(`zone/${o.zone}`), JSON.stringify(zonePayload(o)), { qos: 1, retain: true });
    if (u.crossings.length || u.occupancy.length) snapshot();
  };

  /** Lines, zones or the calibration changed while running: unchanged lines count on, new and moved ones from now. */
  const reshape = (next: ResolvedShapes) => {
    const gone = [...lines.filter((l) => !next.lines.some((n) => n.name === l.name)), ...zones.filter((z) => !next.zones.some((n) => n.name === z.name))];
    const fresh = counter.reshape(next.lines, next.zones);
    if (JSON.stringify(next.calibration) !== JSON.stringify(calibration)) counter.setMapping(groundMapping(next.calibration));
    stats.reshape(
      next.lines,
      next.zones.map((z) => z.name),
      fresh,
    );
    const now = new Date().toISOString();
    for (const line of fresh) totals.restart(line, now);
    for (const g of gone) {
      // Its retained messages go too, so no consumer keeps a count of a line that is no more.
      if ('a' in g) totals.forget(g.name);
      mqtt.publish(mqtt.topic('a' in g ? `line/${g.name}/totals` : `zone/${g.name}`), '', { qos: 1, retain: true });
    }
    ({ lines, zones, calibration } = next);
    totals.save(counter.totals);
    publishRetained();
    snapshot();
    log.info({ fresh, removed: gone.map((g) => g.name), lines: lines.map((l) => l.name), zones: zones.map((z) => z.name) }, 'counting lines and zones changed');
  };

  const sendStats = (payload: StatsPayload) => {
    // Nothing to report while no line or zone is drawn.
    if (!lines.length && !zones.length && !Object.keys(payload.lines).length && !Object.keys(payload.zones).length) return;
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
          if (!lines.length && !zones.length) return;
          const u = counter.update(result);
          for (const o of u.zones) stats.occupancy(o.zone, o.trackIds.length);
          handle(u);
        },
        name,
      );
      bus.on('shapes', reshape, name);
      schedule();
      snapshot();
      if (lines.length || zones.length) log.info({ lines: lines.map((l) => l.name), zones: zones.map((z) => z.name), statsInterval }, 'counting lines and zones');
    },
    stop: () => {
      clearTimeout(timer);
      // Crossings waiting for their speed go out now; objects in zones leave; the interval so far is reported.
      handle(counter.flush());
      sendStats(stats.take(intervalStart, new Date()));
    },
  };
}
