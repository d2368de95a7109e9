// One typed event map connects the stages' observers (publish, viewer, metrics)
// without them reaching into each other. A listener that throws is logged and
// cannot break the pipeline or the other listeners.
import type { Logger } from './log.js';
import type { Detection } from './detect/index.js';
import type { SpeedReport } from './track/index.js';
import type { Frame } from './capture/frame.js';

export interface FrameProcessed {
  index: number;
  pts: number;
  sourceWidth: number;
  sourceHeight: number;
  /** Reported detections, each with the id of its track. */
  detections: (Detection & { trackId?: number })[];
  inferenceMs: number;
}

export interface AgentEvents {
  /** A frame from capture, before detection; its buffer is valid only during the event. */
  frame: Frame;
  detections: FrameProcessed;
  speed: SpeedReport;
  status: { component: string; state: string; detail?: string };
}

type Listener<T> = (event: T) => void;

export class EventBus {
  private readonly listeners = new Map<keyof AgentEvents, Listener<never>[]>();

  constructor(private readonly log: Logger) {}

  on<K extends keyof AgentEvents>(name: K, listener: Listener<AgentEvents[K]>): () => void {
    const list = this.listeners.get(name) ?? [];
    list.push(listener as Listener<never>);
    this.listeners.set(name, list);
    return () => {
      const i = list.indexOf(listener as Listener<never>);
      if (i >= 0) list.splice(i, 1);
    };
  }

  emit<K extends keyof AgentEvents>(name: K, event: AgentEvents[K]): void {
    for (const listener of this.listeners.get(name) ?? []) {
      try {
        (listener as Listener<AgentEvents[K]>)(event);
      } catch (err) {
        this.log.error({ err, event: name }, 'event listener failed');
      }
    }
  }
}
