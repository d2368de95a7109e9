// The evidence photos on disk (STATE_DIR/evidence/): written whole (a temporary name, then
// renamed), kept within EVIDENCE_MAX_MB and HISTORY_DAYS, the oldest removed first. A
// photo half written when the agent died (its .jpg.tmp) is removed at the next start, and
// one whose write failed (a full disk) at once.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

interface Kept {
  name: string;
  bytes: number;
  mtimeMs: number;
}

export class EvidenceFiles {
  private kept: Kept[] = [];
  private bytes = 0;
  /** `partial`: half-written photos removed (left by a crash, or by a write that failed); `dropped`: photos not made (queue full, no picture). */
  readonly stats = { written: 0, removed: 0, failed: 0, partial: 0, dropped: 0 };

  constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    private readonly days: number,
  ) {}

  /** Reads what is on disk (oldest first), then applies the bounds. */
  open(now = Date.now()): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(this.dir).filter((n) => n.endsWith('.jpg.tmp'))) {
      rmSync(join(this.dir, name), { force: true });
      this.stats.partial++;
    }
    this.kept = readdirSync(this.dir)
      .filter((n) => n.endsWith('.jpg'))
      .map((name) => {
        const st = statSync(join(this.dir, name));
        return { name, bytes: st.size, mtimeMs: st.mtimeMs };
      })
      .sort((a, b) => a.mtimeMs - b.mtimeMs || a.name.localeCompare(b.name));
    this.bytes = this.kept.reduce((a, k) => a + k.bytes, 0);
    this.prune(now);
  }

  write(name: string, jpeg: Buffer, now = Date.now()): void {
    const path = join(this.dir, name);
    try {
      writeFileSync(`${path}.tmp`, jpeg, { mode: 0o600 });
      renameSync(`${path}.tmp`, path);
    } catch (err) {
      if (existsSync(`${path}.tmp`)) {
        rmSync(`${path}.tmp`, { force: true });
        this.stats.partial++;
      }
      throw err;
    }
    this.kept.push({ name, bytes: jpeg.length, mtimeMs: now });
    this.bytes += jpeg.length;
    this.stats.written++;
    this.prune(now);
  }

  /** Removes photos older than the days kept, then the oldest until the rest fit. */
  prune(now = Date.now()): void {
    const before = this.days > 0 ? now - this.days * 86_400_000 : -Infinity;
    while (this.kept.length && (this.kept[0]!.mtimeMs < before || this.bytes > this.maxBytes)) {
      const k = this.kept.shift()!;
      this.bytes -= k.bytes;
      rmSync(join(this.dir, k.name), { force: true });
      this.stats.removed++;
    }
  }

  get totalBytes(): number {
    return this.bytes;
  }
}
