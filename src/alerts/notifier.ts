/**
 * The alert notifier: a consumer group on the `alerts` stream (one partition, so one member of
 * the group delivers at a time) that folds the alert book and POSTs each real transition to its
 * destinations.
 *
 * Nothing is lost while a receiver is down: the group's offset moves past an alert only once
 * every destination took it (2xx). Until then the handler throws and the consumer retries the
 * batch with backoff (100 ms doubling to 5 s); a crash or restart starts again from the last
 * committed offset. Destinations that already answered 2xx are not called again by this process;
 * across a crash a repeat is possible, with the same `x-tollgate-delivery` id (at least once,
 * deduplicable by the receiver).
 */
import type { EventEnvelope } from "../events/envelope.ts";
import { type EventLog, readBatches, type StoredEvent, type Subscription } from "../events/event-log.ts";
import { AlertBook, type AlertPayload } from "./book.ts";
import { deliverOnce, deliveryBody, type Destination } from "./delivery.ts";

export const NOTIFY_GROUP = "alerts-notify";

export interface NotifierOptions {
  /** The destinations of an alert (its rule's, else every enabled one in its scope). */
  destinations: (alert: AlertPayload, e: EventEnvelope) => readonly Destination[];
  group?: string;
  fetch?: typeof fetch;
  /** Transitions older than this are not sent (default 7 days, like the webhook-notifier's keep_ms). */
  maxAgeMs?: number;
  onDelivery?: (d: { id: string; destination: string; ok: boolean; status?: number; error?: string; attempt: number }) => void;
  /** A failed read of the alerts stream while starting (retried with backoff). */
  onError?: (err: unknown) => void;
}

export class AlertNotifier {
  private readonly book = new AlertBook();
  private foldedTo = 0;
  private readonly done = new Set<string>();
  private readonly attempts = new Map<string, number>();
  private readonly toNotify = new Map<number, EventEnvelope>();
  private sub: Subscription | undefined;
  private starting: Promise<void> | undefined;
  private stopping = false;
  delivered = 0;
  failed = 0;

  constructor(
    private readonly log: EventLog,
    private readonly opts: NotifierOptions,
  ) {}

  /** Fold what the group already delivered, then consume from there. */
  start(): this {
    this.starting ??= (async () => {
      const group = this.opts.group ?? NOTIFY_GROUP;
      // The fold reads the log: a broker that is still electing the new topic's leader
      // (NOT_LEADER_FOR_PARTITION, …) is retried with backoff, never an unhandled rejection.
      for (let pause = 100; !this.stopping; pause = Math.min(pause * 2, 5_000)) {
        try {
          await this.fold(group);
          break;
        } catch (err) {
          this.opts.onError?.(err);
          await new Promise((r) => setTimeout(r, pause));
        }
      }
      if (this.stopping) return;
      this.sub = this.log.consume("alerts", group, (batch) => this.handle(batch), { maxBatch: 100, onError: () => {} });
    })();
    return this;
  }

  /** Fold what the group already delivered (the alerts stream up to its committed offset). */
  private async fold(group: string): Promise<void> {
    const committed = (await this.log.committed("alerts", group))[0] ?? 0;
    for await (const batch of readBatches(this.log, "alerts", 0, this.foldedTo)) {
      for (const r of batch) {
        if (r.offset >= committed) break;
        this.book.apply(r.event);
        this.foldedTo = r.offset + 1;
      }
      if (this.foldedTo >= committed) break;
    }
  }

  private async handle(batch: StoredEvent[]): Promise<void> {
    for (const r of batch) {
      if (r.offset < this.foldedTo) continue; // a retried batch: folded the first time round
      this.foldedTo = r.offset + 1;
      // Duplicates change nothing: never sent. Nor is a transition older than maxAgeMs (a first
      // destination added long after: no flood of history; an outage longer than that: dropped).
      if (this.book.apply(r.event) && Date.now() - Date.parse(r.event.time) <= (this.opts.maxAgeMs ?? 7 * 86_400_000)) this.toNotify.set(r.offset, r.event);
    }
    let failures = 0;
    for (const r of batch) {
      const e = this.toNotify.get(r.offset);
      if (!e) continue;
      let left = 0;
      for (const dest of this.opts.destinations(e.payload as unknown as AlertPayload, e)) {
        const id = `${e.id}:${dest.id}`;
        if (this.done.has(id)) continue;
        const attempt = (this.attempts.get(id) ?? 0) + 1;
        this.attempts.set(id, attempt);
        const res = await deliverOnce(dest, id, e.type, deliveryBody(dest, e), attempt, this.opts.fetch);
        this.opts.onDelivery?.({ id, destination: dest.id, ok: res.ok, attempt, ...(res.status ? { status: res.status } : {}), ...(res.error ? { error: res.error } : {}) });
        if (res.ok) {
          this.done.add(id);
          this.attempts.delete(id);
          this.delivered++;
        } else {
          left++;
          this.failed++;
        }
      }
      if (left === 0) this.toNotify.delete(r.offset);
      failures += left;
    }
    if (failures) throw new Error(`${failures} alert deliveries failed; retrying`);
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.starting?.catch(() => {});
    await this.sub?.stop();
  }
}

