// Before tracking: detections whose anchor lies in a mask (for every class, or the mask's
// classes), or whose box is smaller or larger than the limits, are dropped and counted.
// A static thing the model mistakes for an object (a sign post as a "person") is masked
// once and never reaches a count, a line or a zone.
import { anchorOf, inPolygon, type NamedShape } from '../geometry.js';
import type { TrackerDetection } from './tracker.js';

export interface FilterOptions {
  masks: NamedShape[];
  minBoxArea: number;
  maxBoxArea: number;
}

export class DetectionFilter {
  readonly stats = { masked: 0, tooSmall: 0, tooLarge: 0 };

  constructor(private options: FilterOptions) {}

  get active(): boolean {
    return this.options.masks.length > 0 || this.options.minBoxArea > 0 || Number.isFinite(this.options.maxBoxArea);
  }

  /** New masks (a Save while running); the size limits stay. */
  setMasks(masks: NamedShape[]): void {
    this.options = { ...this.options, masks };
  }

  apply<D extends TrackerDetection>(detections: D[]): D[] {
    if (!this.active) return detections;
    const { masks, minBoxArea, maxBoxArea } = this.options;
    return detections.filter((d) => {
      const [x1, y1, x2, y2] = d.box;
      const area = (x2 - x1) * (y2 - y1);
      if (area < minBoxArea) return (void this.stats.tooSmall++, false);
      if (area > maxBoxArea) return (void this.stats.tooLarge++, false);
      const anchor = anchorOf(d.box);
      if (masks.some((m) => (!m.classes.length || m.classes.includes(d.className)) && inPolygon(m.points, anchor))) return (void this.stats.masked++, false);
      return true;
    });
  }
}
