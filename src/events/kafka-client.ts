/**
 * The kafkajs client the event log uses: short connection timeouts and retries, and quiet
 * logging. kafkajs logs every error response of the broker at ERROR level even when it
 * retries the request (e.g. "coordinator is loading" on a fresh broker), and one line per
 * failed connect attempt; those are dropped here — an error that matters reaches the caller
 * as a thrown error or a consumer crash. What remains goes to stderr as one line, the same
 * line at most once per 10 s.
 */
import { Kafka, logLevel, type LogEntry, type logCreator } from "kafkajs";

export interface KafkaClientOptions {
  brokers: string[];
  clientId?: string;
}

const REPEAT_MS = 10_000;

const quietLogs: logCreator = () => {
  const lastSeen = new Map<string, number>();
  return ({ namespace, label, log }: LogEntry) => {
    const { message, timestamp: _timestamp, ...extra } = log;
    if (namespace === "Connection" || message.startsWith("[Connection]")) return;
    if (namespace === "BrokerPool" && message.startsWith("Failed to connect to seed broker")) return;
    const detail = "error" in extra ? ` (${String(extra.error)})` : "";
    const line = `[kafkajs] ${label} ${namespace ? `${namespace}: ` : ""}${message}${detail}`;
    const now = Date.now();
    if (now - (lastSeen.get(line) ?? Number.NEGATIVE_INFINITY) < REPEAT_MS) return;
    if (lastSeen.size > 1000) lastSeen.clear();
    lastSeen.set(line, now);
    console.error(line);
  };
};

export function createKafka(opts: KafkaClientOptions): Kafka {
  if (opts.brokers.length === 0) throw new Error("no Kafka brokers given");
  return new Kafka({
    clientId: opts.clientId ?? "tollgate",
    brokers: opts.brokers,
    connectionTimeout: 3000,
    retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2000 },
    logLevel: logLevel.ERROR,
    logCreator: quietLogs,
  });
}
