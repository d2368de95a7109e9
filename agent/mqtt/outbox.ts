// The outbox: telemetry waiting for the broker's acknowledgement, kept on disk so
// that a broker outage, and an agent restart during one, lose nothing.
//
// An append-only JSON-lines log holds every message; a cursor file records the last
// acknowledged sequence number (written at most once a second, so a crash can resend
// up to a second of already-delivered messages: at-least-once, as QoS 1 promises).
// The log is rewritten without its acknowledged prefix once that prefix is large.
// Bounded by count and bytes: when full, the oldest messages are dropped and counted.
//
// The disk may fail (full, read-only, removed): then the outbox keeps its messages in
// memory, within the same bounds, says so through onDiskError, and goes back to disk
// once a rewrite of the whole log succeeds (tried every DISK_RETRY_MS). A damaged log
// is read record by record: each is validated, bad ones are skipped and counted; a log
// that cannot be read at all is renamed *.corrupt and a new one is started.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { makeDirectory } from '../paths.js';

const record = z.object({
  seq: z.number().int().positive(),
  topic: z.string().min(1),
  payload: z.string(),
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]),
});

export interface OutboxMessage {
  seq: number;
  topic: string;
  payload: string;
  qos: 0 | 1 | 2;
}

export interface OutboxOptions {
  /** Directory for the log; undefined keeps the outbox in memory only. */
  dir?: string;
  maxMessages: number;
  maxBytes: number;
  /** Called with the number of messages dropped because the outbox was full. */
  onDrop?: (count: number) => void;
  /** Called when writing to disk fails (the outbox goes on in memory), and with undefined when it works again. */
  onDiskError?: (err: NodeJS.ErrnoException | undefined) => void;
}

export interface OpenResult {
  /** Unacknowledged messages restored. */
  restored: number;
  /** Records that were not valid messages (torn by a crash, or damaged). */
  skipped: number;
  /** The log could not be read at all: renamed to this path. */
  corrupt?: string;
}

/** How often a failed disk is tried again. */
const DISK_RETRY_MS = 5000;

const LOG = 'outbox.jsonl';
const CURSOR = 'outbox.ack';
const COMPACT_AFTER = 2000;

export class Outbox {
  private pending: OutboxMessage[] = [];
  private bytes = 0;
  private nextSeq = 1;
  private acked = 0;
  private ackedInLog = 0;
  private cursorTimer: NodeJS.Timeout | undefined;
  private diskRetry: NodeJS.Timeout | undefined;
  /** The disk failed: messages are kept in memory until a rewrite succeeds. */
  private diskFailed = false;
  dropped = 0;

  constructor(private readonly options: OutboxOptions) {}

  /** Loads what a previous run left unacknowledged. */
  open(): OpenResult {
    const dir = this.options.dir;
    const result: OpenResult = { restored: 0, skipped: 0 };
    if (!dir) return result;
    makeDirectory(dir);
    const cursorPath = join(dir, CURSOR);
    const cursor = existsSync(cursorPath) ? Number(readFileSync(cursorPath, 'utf8').trim()) : 0;
    this.acked = Number.isSafeInteger(cursor) && cursor > 0 ? cursor : 0;
    const logPath = join(dir, LOG);
    let text = '';
    try {
      if (existsSync(logPath)) text = readFileSync(logPath, 'utf8');
    } catch {
      result.corrupt = `${logPath}.${Date.now()}.corrupt`;
      renameSync(logPath, result.corrupt);
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      const m = parseRecord(line);
      if (!m) {
        result.skipped++;
        continue;
      }
      this.nextSeq = Math.max(this.nextSeq, m.seq + 1);
      if (m.seq > this.acked) this.push(m);
      else this.ackedInLog++;
    }
    this.nextSeq = Math.max(this.nextSeq, this.acked + 1);
    this.compact();
    result.restored = this.pending.length;
    return result;
  }

  get size(): number {
    return this.pending.length;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  add(topic: string, payload: string, qos: 0 | 1 | 2): OutboxMessage {
    const m: OutboxMessage = { seq: this.nextSeq++, topic, payload, qos };
    this.push(m);
    if (this.options.dir && !this.diskFailed) this.onDisk(() => appendFileSync(join(this.options.dir!, LOG), JSON.stringify(m) + '\n'));
    return m;
  }

  /** The first `n` unacknowledged messages, oldest first. */
  peek(n: number): readonly OutboxMessage[] {
    return this.pending.slice(0, n);
  }

  /** Marks a message delivered. Messages are acknowledged in any order; the cursor advances over the delivered prefix. */
  ack(seq: number): void {
    const i = this.pending.findIndex((m) => m.seq === seq);
    if (i < 0) return;
    const [m] = this.pending.splice(i, 1);
    this.bytes -= byteSize(m!);
    const next = this.pending[0]?.seq ?? this.nextSeq;
    if (next - 1 > this.acked) {
      this.ackedInLog += next - 1 - this.acked;
      this.acked = next - 1;
      this.scheduleCursor();
    }
  }

  /** Writes the cursor now (at shutdown), or the whole log when the disk had failed. */
  flush(): void {
    clearTimeout(this.cursorTimer);
    clearTimeout(this.diskRetry);
    this.cursorTimer = undefined;
    if (this.diskFailed) this.compact();
    else this.writeCursor();
  }

  private push(m: OutboxMessage): void {
    this.pending.push(m);
    this.bytes += byteSize(m);
    let dropped = 0;
    while (this.pending.length > 1 && (this.pending.length > this.options.maxMessages || this.bytes > this.options.maxBytes)) {
      const old = this.pending.shift()!;
      this.bytes -= byteSize(old);
      this.acked = Math.max(this.acked, old.seq);
      dropped++;
    }
    if (dropped) {
      this.dropped += dropped;
      this.scheduleCursor();
      this.options.onDrop?.(dropped);
    }
  }

  private scheduleCursor(): void {
    if (!this.options.dir || this.cursorTimer) return;
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = undefined;
      this.writeCursor();
      if (this.ackedInLog > COMPACT_AFTER) this.compact();
    }, 1000);
    this.cursorTimer.unref();
  }

  private writeCursor(): void {
    if (!this.options.dir || this.diskFailed) return;
    const path = join(this.options.dir, CURSOR);
    this.onDisk(() => {
      writeFileSync(`${path}.tmp`, String(this.acked));
      renameSync(`${path}.tmp`, path);
    });
  }

  /** Rewrites the log with only the unacknowledged messages; after a disk failure, this is how it returns to disk. */
  private compact(): void {
    if (!this.options.dir) return;
    const path = join(this.options.dir, LOG);
    const wasFailed = this.diskFailed;
    const ok = this.onDisk(() => {
      writeFileSync(`${path}.tmp`, this.pending.map((m) => JSON.stringify(m) + '\n').join(''));
      renameSync(`${path}.tmp`, path);
    });
    if (!ok) return;
    this.diskFailed = false;
    this.ackedInLog = 0;
    this.writeCursor();
    if (wasFailed && !this.diskFailed) this.options.onDiskError?.(undefined);
  }

  /** Runs a write; a failure switches the outbox to memory and schedules the retry. Never throws. */
  private onDisk(write: () => void): boolean {
    try {
      write();
      return true;
    } catch (err) {
      const first = !this.diskFailed;
      this.diskFailed = true;
      if (first) this.options.onDiskError?.(err as NodeJS.ErrnoException);
      if (!this.diskRetry) {
        this.diskRetry = setTimeout(() => {
          this.diskRetry = undefined;
          this.compact();
        }, DISK_RETRY_MS);
        this.diskRetry.unref();
      }
      return false;
    }
  }
}

function parseRecord(line: string): OutboxMessage | undefined {
  try {
    const parsed = record.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const byteSize = (m: OutboxMessage) => m.payload.length + m.topic.length + 32;
