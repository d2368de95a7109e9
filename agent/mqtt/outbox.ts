// The outbox: telemetry waiting for the broker's acknowledgement, kept on disk so
// that a broker outage, and an agent restart during one, lose nothing.
//
// An append-only JSON-lines log holds every message; a cursor file records the last
// acknowledged sequence number (written at most once a second, so a crash can resend
// up to a second of already-delivered messages: at-least-once, as QoS 1 promises).
// The log is rewritten without its acknowledged prefix once that prefix is large.
// Bounded by count and bytes: when full, the oldest messages are dropped and counted.
import { appendFileSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { makeDirectory } from '../paths.js';
import { join } from 'node:path';

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
}

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
  dropped = 0;

  constructor(private readonly options: OutboxOptions) {}

  /** Loads what a previous run left unacknowledged. Returns how many messages that is. */
  open(): number {
    const dir = this.options.dir;
    if (!dir) return 0;
    makeDirectory(dir);
    const cursorPath = join(dir, CURSOR);
    this.acked = existsSync(cursorPath) ? Number(readFileSync(cursorPath, 'utf8').trim()) || 0 : 0;
    const logPath = join(dir, LOG);
    if (existsSync(logPath)) {
      for (const line of readFileSync(logPath, 'utf8').split('\n')) {
        if (!line) continue;
        let m: OutboxMessage;
        try {
          m = JSON.parse(line) as OutboxMessage;
        } catch {
          continue; // a line torn by a crash mid-write
        }
        this.nextSeq = Math.max(this.nextSeq, m.seq + 1);
        if (m.seq > this.acked) this.push(m);
        else this.ackedInLog++;
      }
    }
    this.nextSeq = Math.max(this.nextSeq, this.acked + 1);
    this.compact();
    return this.pending.length;
  }

  get size(): number {
    return this.pending.length;
  }

  get sizeBytes(): number {
    return this.bytes;
  }

  add(topic: string, payload: string, qos: 0 | 1 | 2): OutboxMessage {
    const m: OutboxMessage = { seq: this.nextSeq++, topic, payload, qos };
    if (this.options.dir) appendFileSync(join(this.options.dir, LOG), JSON.stringify(m) + '\n');
    this.push(m);
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

  /** Writes the cursor now (at shutdown). */
  flush(): void {
    clearTimeout(this.cursorTimer);
    this.cursorTimer = undefined;
    this.writeCursor();
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
    if (!this.options.dir) return;
    const path = join(this.options.dir, CURSOR);
    writeFileSync(`${path}.tmp`, String(this.acked));
    renameSync(`${path}.tmp`, path);
  }

  /** Rewrites the log with only the unacknowledged messages. */
  private compact(): void {
    if (!this.options.dir) return;
    const path = join(this.options.dir, LOG);
    writeFileSync(`${path}.tmp`, this.pending.map((m) => JSON.stringify(m) + '\n').join(''));
    renameSync(`${path}.tmp`, path);
    this.ackedInLog = 0;
    this.writeCursor();
  }
}

const byteSize = (m: OutboxMessage) => m.payload.length + m.topic.length + 32;
