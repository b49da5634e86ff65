/**
 * The alert book: which alerts are open, folded from the `alerts` stream (`alert.fired` /
 * `alert.resolved`). Pure. The fold is what makes "fires once" hold whatever wrote the log:
 * an `alert.fired` for an alert already open (a second evaluator racing, a retried append) is a
 * duplicate and changes nothing, as is an `alert.resolved` for one that is not open. Only the
 * events that change the book are notified (delivery.ts), so a receiver hears each crossing once.
 */
import type { EventEnvelope } from "../events/envelope.ts";
import { alertKey, type Transition } from "./evaluate.ts";

/** The `alerts` stream's payload of `alert.fired` / `alert.resolved`. */
export interface AlertPayload extends Omit<Transition, "kind"> {
  /** 1 for the first time this alert fired, +1 at each new firing after a resolve. */
  episode: number;
  /** Requests-stream offsets (per partition) the decision was taken at: a restarted evaluator re-decides nothing before them. */
  watermark: number[];
  /** The id of the `alert.fired` event that opened the episode (on `alert.resolved`). */
  firedId?: string;
}

export interface OpenAlert {
  episode: number;
  firedId: string;
  firedAt: string;
  payload: AlertPayload;
}

export class AlertBook {
  readonly open = new Map<string, OpenAlert>();
  /** Episodes seen per alert (open or closed). */
  private readonly episodes = new Map<string, number>();
  /** Highest watermark per partition over every alert event folded. */
  watermark: number[] = [];
  /** Events folded / of those, duplicates that changed nothing. */
  folded = 0;
  duplicates = 0;

  /** Fold one event; returns whether it changed the book (i.e. is a real transition to notify). */
  apply(e: EventEnvelope): boolean {
    if (e.type !== "alert.fired" && e.type !== "alert.resolved") return false;
    const p = e.payload as unknown as AlertPayload;
    if (typeof p.rule !== "string" || typeof p.scope !== "string") return false;
    this.folded++;
    for (const [i, o] of (Array.isArray(p.watermark) ? p.watermark : []).entries()) if (typeof o === "number" && o > (this.watermark[i] ?? -1)) this.watermark[i] = o;
    const key = alertKey(p.rule, p.scope);
    if (e.type === "alert.fired") {
      if (this.open.has(key)) return this.dup();
      const episode = (this.episodes.get(key) ?? 0) + 1;
      this.episodes.set(key, episode);
      this.open.set(key, { episode, firedId: e.id, firedAt: e.time, payload: p });
      return true;
    }
    if (!this.open.has(key)) return this.dup();
    this.open.delete(key);
    return true;
  }

  private dup(): false {
    this.duplicates++;
    return false;
  }

  openKeys(): Set<string> {
    return new Set(this.open.keys());
  }

  /** The episode a new `alert.fired` of this alert would open. */
  nextEpisode(rule: string, scope: string): number {
    return (this.episodes.get(alertKey(rule, scope)) ?? 0) + 1;
  }

  get(rule: string, scope: string): OpenAlert | undefined {
    return this.open.get(alertKey(rule, scope));
  }
}
