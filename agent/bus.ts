// One typed event map connects the pipeline to its features without them reaching
// into each other. A listener that throws is logged and cannot break the pipeline or
// the other listeners. Listeners are registered under an owner (a feature's name), so
// stopping a feature removes all of its listeners at once.
import type { Logger } from './log.js';
import type { Detection } from './detect/index.js';
import type { HeldPosition, SpeedReport } from './track/index.js';
import type { Frame } from './frames/frame.js';
import type { StatsPayload } from './mqtt/payloads.js';
import type { ResolvedShapes } from './config/shapes.js';

/** A counting line was crossed: line, direction, track, class, speed at the line (analytics). */
export interface Crossing {
  line: string;
  direction: string;
  trackId: number;
  className: string;
  /** Source time the anchor crossed the line (interpolated between frames). */
  pts: number;
  speed?: { value: number; unit: string; errorEstimate: number; samples: number };
  /** With SPEED_TRAPS: the trap that gave `speed` (its other line, the distance, the seconds between the crossings). */
  trap?: { name: string; from: string; metres: number; seconds: number };
  /** URL path of the evidence photo the evidence feature makes of it (EVIDENCE_CLASSES). */
  evidence?: string;
  /** The event's unique id (event_id on MQTT and in the history), given when it is published. */
  eventId?: string;
}

/** An object entered or left a zone (analytics). */
export interface ZoneEvent {
  zone: string;
  event: 'entered' | 'left';
  trackId: number;
  className: string;
  pts: number;
  /** Seconds (source time) from entering to leaving; on `left` only. */
  dwell?: number;
  /** On `left`, with a calibration: the speed through the zone (a fit of the ground positions while inside). */
  speed?: { value: number; unit: string; errorEstimate: number; samples: number };
  /** On `left` with a speed: URL path of the evidence photo the evidence feature makes of it (EVIDENCE_CLASSES). */
  evidence?: string;
  /** The event's unique id (event_id on MQTT and in the history), given when it is published. */
  eventId?: string;
}

/** The wall-clock time (ISO 8601) an analytics event was published at. */
export interface Stamped {
  timestamp: string;
}

/** The counts a person watching wants at a glance: totals per line and direction, objects per zone. */
export interface AnalyticsSnapshot {
  lines: Record<string, Record<string, number>>;
  zones: Record<string, number>;
}

/** A reported detection with the id of its track, and whether that track is confirmed (seen in enough frames to be trusted). */
export type TrackedDetection = Detection & { trackId?: number; trackConfirmed?: boolean };

/** One processed frame: what the pipeline emits after detection and tracking. */
export interface FrameResult {
  index: number;
  pts: number;
  sourceWidth: number;
  sourceHeight: number;
  detections: TrackedDetection[];
  inferenceMs: number;
  /** Where the tracks reported at this frame were since their last report (while being confirmed, or weakly detected), oldest first: counting replays them. */
  replay?: HeldPosition[];
}

export interface StatusEvent {
  /** camera: the video source; detection: running or paused; agent: running (every part started) or stopping. */
  component: 'camera' | 'detection' | 'agent';
  state: string;
  detail?: string;
}

export interface AgentEvents {
  /** A frame from capture, before detection; its buffer is valid only during the event. */
  frame: Frame;
  detections: FrameResult;
  speed: SpeedReport;
  status: StatusEvent;
  /** A counting line was crossed (analytics), stamped as its message on `line/<name>`. */
  crossing: Crossing & Stamped;
  /** An object entered or left a zone (analytics), stamped as its message on `zone/<name>/event`. */
  zone: ZoneEvent & Stamped;
  /** The statistics of an interval, as sent on `stats` (analytics). */
  stats: StatsPayload;
  /** Line totals or zone occupancy changed (analytics). */
  analytics: AnalyticsSnapshot;
  /** An evidence photo was written, or will never be (its path then leaves the history). */
  evidence: { path: string; written: boolean };
  /** Lines, zones, masks or the calibration changed while running (a Save, a set/<shape> command). */
  shapes: ResolvedShapes;
  /** A telemetry message the broker acknowledged. */
  delivered: { topic: string; payload: string };
}

type Listener<T> = (event: T) => void;
interface Entry {
  owner: string;
  listener: Listener<never>;
}

export class EventBus {
  private readonly listeners = new Map<keyof AgentEvents, Entry[]>();

  constructor(private readonly log: Logger) {}

  on<K extends keyof AgentEvents>(name: K, listener: Listener<AgentEvents[K]>, owner = 'agent'): () => void {
    const entry: Entry = { owner, listener: listener as Listener<never> };
    const list = this.listeners.get(name) ?? [];
    list.push(entry);
    this.listeners.set(name, list);
    return () => {
      const i = list.indexOf(entry);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** Removes every listener registered by `owner`. */
  removeOwner(owner: string): void {
    for (const [name, list] of this.listeners) {
      this.listeners.set(
        name,
        list.filter((e) => e.owner !== owner),
      );
    }
  }

  emit<K extends keyof AgentEvents>(name: K, event: AgentEvents[K]): void {
    for (const { owner, listener } of this.listeners.get(name) ?? []) {
      try {
        (listener as Listener<AgentEvents[K]>)(event);
      } catch (err) {
        this.log.error({ err, event: name, feature: owner }, 'event listener failed');
      }
    }
  }
}
