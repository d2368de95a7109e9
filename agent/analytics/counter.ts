// Counting lines and zones over tracks. Each processed frame's confirmed tracks move
// their anchors (box bottom-centre); a line counts a track when the anchor's path crosses
// the segment and then gets `hysteresis` pixels beyond it (so jitter across the line
// never counts, and never counts the wrong way), and again only when it crosses back (a
// person who walks through a door and out again is one in and one out); a zone holds the tracks whose
// anchor is inside it, entered and left after two frames in a row on the new side.
//
// A crossing carries the object's speed at the line when the ground plane is
// calibrated: a least-squares fit of its ground positions within half a speed window
// either side of the crossing time, so it waits for that half window (or the track's end).
import type { Crossing, FrameResult, ZoneEvent } from '../bus.js';

export type { Crossing, ZoneEvent };
import type { CountingLine } from '../config/index.js';
import type { SpeedTrap } from '../config/analytics.js';
import { SpeedTraps } from './traps.js';
import { estimateVelocity, groundAnchor, SPEED_UNITS, type GroundMapping, type Sample, type SpeedUnit } from '../track/index.js';
import { anchorOf, crossingAlong, inPolygon, signedDistance, type Point } from '../geometry.js';

export interface Occupancy {
  zone: string;
  counts: Record<string, number>;
  trackIds: number[];
}

export interface CounterOptions {
  lines: CountingLine[];
  /** Pairs of lines a known distance apart (SPEED_TRAPS): a crossing that closes one gets its speed from it. */
  traps?: SpeedTrap[];
  zones: { name: string; points: Point[] }[];
  hysteresis: number;
  /** Seconds (source time) a track may go unseen before it has ended. */
  lostSeconds: number;
  mapping?: GroundMapping;
  unit: SpeedUnit;
  /** Seconds of positions in a crossing's speed fit, centred on the crossing. */
  speedWindow: number;
}

/** Frames in a row an anchor must be on the new side of a zone's border before it has entered or left. */
const ZONE_FRAMES = 2;
/** Seconds of positions kept per track. */
const HISTORY = 10;

interface LineState {
  /** The side the anchor has settled on, -1 or 1; 0 until it has been `hysteresis` away from the line. */
  side: number;
  /** The last raw crossing of the line: where along the segment, towards which side, when. */
  crossed?: { along: number; to: number; pts: number };
  /** The side the last counted crossing went to (0: none yet): the next one must go the other way. */
  countedTo: number;
}

interface ZoneState {
  inside: boolean;
  since: number;
  streak: number;
}

interface TrackState {
  className: string;
  lastPts: number;
  anchor: Point;
  samples: Sample[];
  lines: Map<string, LineState>;
  zones: Map<string, ZoneState>;
}

export interface CounterUpdate {
  crossings: Crossing[];
  zoneEvents: ZoneEvent[];
  /** Zones whose occupancy changed at this frame. */
  occupancy: Occupancy[];
  /** Every zone's occupancy after this frame. */
  zones: Occupancy[];
}

export class Counter {
  private readonly tracks = new Map<number, TrackState>();
  private readonly traps: SpeedTraps;
  /** Crossings waiting for the positions after them, for their speed (`measured` once their track has ended). */
  private pending: { crossing: Crossing; due: number; measured?: boolean }[] = [];
  /** Each zone's occupancy as last reported, to report only changes. */
  private readonly reported: Map<string, string>;
  /** Crossings since start (or since the totals kept in STATE_DIR): line → direction → class → count. */
  readonly totals = new Map<string, Map<string, Map<string, number>>>();

  constructor(private options: CounterOptions) {
    this.traps = new SpeedTraps(options.traps ?? [], options.unit);
    this.reported = new Map(this.occupancy().map((o) => [o.zone, JSON.stringify(o)]));
  }

  /**
   * New lines and zones while running. One kept exactly as it was (name, points,
   * directions) keeps its state and totals; a moved or new one starts fresh; a removed one
   * is forgotten, its objects with it. Returns the names of the lines that start fresh.
   */
  reshape(lines: CountingLine[], zones: { name: string; points: Point[] }[]): string[] {
    const same = <T extends { name: string }>(list: T[], item: T) => list.some((o) => o.name === item.name && JSON.stringify(o) === JSON.stringify(item));
    const fresh = lines.filter((l) => !same(this.options.lines, l)).map((l) => l.name);
    const keptLines = new Set(lines.filter((l) => !fresh.includes(l.name)).map((l) => l.name));
    const keptZones = new Set(zones.filter((z) => same(this.options.zones, z)).map((z) => z.name));
    for (const t of this.tracks.values()) {
      for (const name of t.lines.keys()) if (!keptLines.has(name)) t.lines.delete(name);
      for (const name of t.zones.keys()) if (!keptZones.has(name)) t.zones.delete(name);
    }
    for (const name of this.totals.keys()) if (!keptLines.has(name)) this.totals.delete(name);
    for (const name of this.reported.keys()) if (!keptZones.has(name)) this.reported.delete(name);
    this.options = { ...this.options, lines, zones };
    return fresh;
  }

  /** A new calibration: ground positions measured with the old one are dropped. */
  setMapping(mapping: GroundMapping | undefined): void {
    this.options = { ...this.options, mapping };
    for (const t of this.tracks.values()) t.samples = [];
  }

  update(result: FrameResult): CounterUpdate {
    const crossings: Crossing[] = [];
    const zoneEvents: ZoneEvent[] = [];
    // Tracks first reported at this frame walk their earlier path first: a line crossed while being confirmed counts, at its time.
    for (const h of result.replay ?? []) this.step(h.trackId, h.className, h.box, h.pts, result, zoneEvents);
    for (const d of result.detections) if (d.trackId !== undefined) this.step(d.trackId, d.className, d.box, result.pts, result, zoneEvents);
    // Tracks unseen for longer than a track may be lost have ended: they leave their zones.
    for (const [id, t] of this.tracks) if (result.pts - t.lastPts > this.options.lostSeconds) zoneEvents.push(...this.end(id, t));
    crossings.push(...this.due(result.pts));
    return { crossings, zoneEvents, ...this.changedOccupancy() };
  }

  /** One position of a track: its lines and zones move on. */
  private step(trackId: number, className: string, box: readonly number[], pts: number, frame: Pick<FrameResult, 'sourceWidth' | 'sourceHeight'>, zoneEvents: ZoneEvent[]): void {
    const anchor = anchorOf(box);
    let t = this.tracks.get(trackId);
    if (!t) {
      t = { className, lastPts: pts, anchor, samples: [], lines: new Map(), zones: new Map() };
      this.tracks.set(trackId, t);
    }
    const previous = t.anchor;
    const previousPts = t.lastPts;
    t.className = className;
    t.lastPts = pts;
    t.anchor = anchor;
    if (this.options.mapping) {
      const ground = groundAnchor(this.options.mapping, box, frame.sourceWidth, frame.sourceHeight);
      if (ground) t.samples.push({ pts, ground });
      while (t.samples.length && t.samples[0]!.pts < pts - HISTORY) t.samples.shift();
    }
    for (const line of this.options.lines) this.updateLine(line, trackId, t, previous, anchor, previousPts, pts);
    for (const zone of this.options.zones) {
      const e = this.updateZone(zone, trackId, t, anchor, pts);
      if (e) zoneEvents.push(e);
    }
  }

  /** Ends every track (the source ended or the agent stops): pending crossings go out, zones are left. */
  flush(): CounterUpdate {
    const zoneEvents = [...this.tracks].flatMap(([id, t]) => this.end(id, t));
    return { crossings: this.due(Infinity), zoneEvents, ...this.changedOccupancy() };
  }

  occupancy(): Occupancy[] {
    return this.options.zones.map((z) => {
      const counts: Record<string, number> = {};
      const trackIds: number[] = [];
      for (const [id, t] of this.tracks) {
        if (!t.zones.get(z.name)?.inside) continue;
        counts[t.className] = (counts[t.className] ?? 0) + 1;
        trackIds.push(id);
      }
      return { zone: z.name, counts, trackIds };
    });
  }

  private updateLine(line: CountingLine, trackId: number, t: TrackState, previous: Point, anchor: Point, previousPts: number, pts: number): void {
    let s = t.lines.get(line.name);
    if (!s) t.lines.set(line.name, (s = { side: 0, countedTo: 0 }));
    const along = previous === anchor ? undefined : crossingAlong(line.a, line.b, previous, anchor);
    const distance = signedDistance(line.a, line.b, anchor);
    if (along !== undefined) {
      // Interpolated time of the crossing, between the two frames.
      const dp = signedDistance(line.a, line.b, previous);
      const f = dp / (dp - distance);
      s.crossed = { along, to: Math.sign(distance), pts: previousPts + f * (pts - previousPts) };
    }
    if (Math.abs(distance) < this.options.hysteresis) return;
    const side = Math.sign(distance);
    if (s.side === 0) {
      s.side = side;
      return;
    }
    if (side === s.side) return;
    // Settled on the other side: a crossing if the path went through the segment itself.
    const crossed = s.crossed;
    s.side = side;
    if (!crossed || crossed.to !== side || crossed.along < 0 || crossed.along > 1 || s.countedTo === side) return;
    s.countedTo = side;
    // Right of a→b on screen is the positive side: left to right is the first direction.
    const direction = line.directions[side > 0 ? 0 : 1];
    this.count(line.name, direction, t.className);
    const crossing = { line: line.name, direction, trackId, className: t.className, pts: crossed.pts };
    // Closing a speed trap, its speed is known now; otherwise it waits for the positions after it.
    const trapped = this.traps.crossing(trackId, line.name, crossed.pts, pts - previousPts);
    if (trapped) {
      const { trap, ...speed } = trapped;
      this.pending.push({ crossing: { ...crossing, speed, trap }, due: -Infinity, measured: true });
    } else this.pending.push({ crossing, due: crossed.pts + this.options.speedWindow / 2 });
  }

  private updateZone(zone: { name: string; points: Point[] }, trackId: number, t: TrackState, anchor: Point, pts: number): ZoneEvent | undefined {
    let s = t.zones.get(zone.name);
    if (!s) t.zones.set(zone.name, (s = { inside: false, since: pts, streak: 0 }));
    const inside = inPolygon(zone.points, anchor);
    if (inside === s.inside) {
      s.streak = 0;
      return undefined;
    }
    if (++s.streak < ZONE_FRAMES) return undefined;
    const left = s.inside ? this.leaving(t, s.since, pts) : {};
    s.inside = inside;
    s.since = pts;
    s.streak = 0;
    return { zone: zone.name, event: inside ? 'entered' : 'left', trackId, className: t.className, pts, ...left };
  }

  private end(id: number, t: TrackState): ZoneEvent[] {
    this.tracks.delete(id);
    this.traps.end(id);
    const events: ZoneEvent[] = [];
    for (const [zone, s] of t.zones)
      if (s.inside) events.push({ zone, event: 'left', trackId: id, className: t.className, pts: t.lastPts, ...this.leaving(t, s.since, t.lastPts) });
    // Its crossings waiting for positions get no more: they go out with what there is.
    for (const p of this.pending)
      if (p.crossing.trackId === id) {
        p.crossing = this.withSpeed(p.crossing, t.samples);
        p.measured = true;
        p.due = -Infinity;
      }
    return events;
  }

  private due(pts: number): Crossing[] {
    const ready = this.pending.filter((p) => p.due <= pts);
    this.pending = this.pending.filter((p) => p.due > pts);
    return ready.map((p) => (p.measured ? p.crossing : this.withSpeed(p.crossing, this.tracks.get(p.crossing.trackId)?.samples ?? [])));
  }

  /** The dwell of a stay in a zone from `since` to `until`, and the speed through it when calibrated. */
  private leaving(t: TrackState, since: number, until: number): Pick<ZoneEvent, 'dwell' | 'speed'> {
    const speed = this.speedOf(t.samples.filter((s) => s.pts >= since - 1e-6 && s.pts <= until + 1e-6));
    return { dwell: until - since, ...(speed ? { speed } : {}) };
  }

  private speedOf(samples: Sample[]): Crossing['speed'] {
    const v = estimateVelocity(samples);
    if (!v) return undefined;
    const unit = SPEED_UNITS[this.options.unit];
    return { value: v.speed * unit.perMps, unit: unit.label, errorEstimate: v.error * unit.perMps, samples: v.samples };
  }

  private withSpeed(c: Crossing, samples: Sample[]): Crossing {
    const half = this.options.speedWindow / 2;
    const speed = this.speedOf(samples.filter((s) => Math.abs(s.pts - c.pts) <= half + 1e-6));
    return speed ? { ...c, speed } : c;
  }

  private count(line: string, direction: string, className: string): void {
    let byDirection = this.totals.get(line);
    if (!byDirection) this.totals.set(line, (byDirection = new Map()));
    let byClass = byDirection.get(direction);
    if (!byClass) byDirection.set(direction, (byClass = new Map()));
    byClass.set(className, (byClass.get(className) ?? 0) + 1);
  }

  /** Every zone's occupancy now, and those that differ from what was last reported. */
  private changedOccupancy(): Pick<CounterUpdate, 'occupancy' | 'zones'> {
    const zones = this.occupancy();
    const occupancy = zones.filter((o) => {
      const key = JSON.stringify(o);
      if (this.reported.get(o.zone) === key) return false;
      this.reported.set(o.zone, key);
      return true;
    });
    return { occupancy, zones };
  }
}
