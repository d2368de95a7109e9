// Running totals of the counting lines, kept in STATE_DIR/line-totals.json across
// restarts, with the time each line has counted since: its first start, or the Save that
// drew or moved it. A damaged file is set aside and counting starts again.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '../log.js';

const TOTALS_FILE = 'line-totals.json';
const byLine = z.record(z.string(), z.record(z.string(), z.record(z.string(), z.number().int().nonnegative())));
const totalsFile = z.object({ since: z.string(), lines: byLine, sinces: z.record(z.string(), z.string()).optional() });

/** line → direction → class → count. */
export type Totals = Map<string, Map<string, Map<string, number>>>;

export class LineTotals {
  private readonly file: string;
  /** Since when each line counts; lines not listed count since `since`. */
  private readonly sinces = new Map<string, string>();
  private since = new Date().toISOString();

  constructor(
    stateDir: string,
    private readonly log: Logger,
  ) {
    this.file = join(stateDir, TOTALS_FILE);
  }

  /** The kept totals of `lines` into `totals`. */
  load(totals: Totals, lines: string[]): void {
    try {
      if (!existsSync(this.file)) return;
      const kept = totalsFile.parse(JSON.parse(readFileSync(this.file, 'utf8')));
      this.since = kept.since;
      for (const [line, at] of Object.entries(kept.sinces ?? {})) this.sinces.set(line, at);
      for (const [line, byDirection] of Object.entries(kept.lines)) {
        if (!lines.includes(line)) continue;
        totals.set(line, new Map(Object.entries(byDirection).map(([d, byClass]) => [d, new Map(Object.entries(byClass))])));
      }
    } catch (err) {
      this.log.warn({ file: this.file, err: (err as Error).message }, 'line totals unreadable: set aside, counting from zero');
      try {
        renameSync(this.file, `${this.file}.damaged`);
      } catch {
        // Nothing to set aside.
      }
    }
  }

  sinceOf(line: string): string {
    return this.sinces.get(line) ?? this.since;
  }

  /** A line drawn or moved: it counts from now. */
  restart(line: string, at = new Date().toISOString()): void {
    this.sinces.set(line, at);
  }

  /** A line deleted. */
  forget(line: string): void {
    this.sinces.delete(line);
  }

  save(totals: Totals): void {
    const data = {
      since: this.since,
      sinces: Object.fromEntries(this.sinces),
      lines: Object.fromEntries([...totals].map(([l, byD]) => [l, Object.fromEntries([...byD].map(([d, byC]) => [d, Object.fromEntries(byC)]))])),
    };
    try {
      writeFileSync(`${this.file}.tmp`, JSON.stringify(data), { mode: 0o600 });
      renameSync(`${this.file}.tmp`, this.file);
    } catch (err) {
      // The counts stay in memory and are sent; only a restart would lose them.
      this.log.warn({ file: this.file, err: (err as Error).message }, 'line totals not saved');
    }
  }
}
