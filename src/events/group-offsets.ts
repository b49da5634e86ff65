/**
 * Committed consumer-group offsets of the file event log, one JSON file per group and stream:
 * `<dir>/<stream>/_groups/<group>.json` = `{ "offsets": { "<partition>": nextOffset } }`,
 * replaced atomically (temp file + fsync + rename).
 */
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { open, readFile, rename } from "node:fs/promises";
import { join } from "node:path";
import { syncDirAsync } from "./file-partition.ts";

export class GroupOffsetStore {
  /** Cached offsets per group file path (partition → next offset). */
  private readonly cache = new Map<string, Promise<Map<number, number>>>();
  /** Serializes writes per group file. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(
    private readonly dir: string,
    private readonly fsync: boolean,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir)) if (f.endsWith(".tmp")) rmSync(join(dir, f), { force: true });
  }

  /** Committed offsets of a group (partition → next offset; absent if never committed). */
  load(group: string): Promise<Map<number, number>> {
    const file = this.fileOf(group);
    let offsets = this.cache.get(file);
    if (!offsets) {
      offsets = readOffsets(file);
      offsets.catch(() => this.cache.delete(file)); // retry a failed read next time
      this.cache.set(file, offsets);
    }
    return offsets;
  }

  /** Record and durably store the next offset of a partition. */
  async set(group: string, partition: number, offset: number): Promise<void> {
    const file = this.fileOf(group);
    const offsets = await this.load(group);
    offsets.set(partition, offset);
    const next = (this.writes.get(file) ?? Promise.resolve()).then(() => this.writeFile(file, group, offsets));
    const tracked = next.catch(() => {});
    this.writes.set(file, tracked);
    void tracked.then(() => {
      if (this.writes.get(file) === tracked) this.writes.delete(file);
    });
    return next;
  }

  /** Wait for pending writes. */
  async flush(): Promise<void> {
    await Promise.all(this.writes.values());
  }

  private async writeFile(file: string, group: string, current: Map<number, number>): Promise<void> {
    const offsets = Object.fromEntries([...current].sort((a, b) => a[0] - b[0]));
    const tmp = `${file}.${process.pid}.tmp`;
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(JSON.stringify({ group, offsets }));
      if (this.fsync) await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    if (this.fsync) await syncDirAsync(this.dir);
  }

  private fileOf(group: string): string {
    if (group.length === 0) throw new RangeError("consumer group name must not be empty");
    // Reversible and safe as a file name ("." encoded too, so no "..").
    return join(this.dir, `${encodeURIComponent(group).replace(/\./g, "%2E")}.json`);
  }
}

async function readOffsets(file: string): Promise<Map<number, number>> {
  const offsets = new Map<number, number>();
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return offsets;
    throw err;
  }
  try {
    const parsed = JSON.parse(text) as { offsets?: Record<string, unknown> };
    for (const [p, o] of Object.entries(parsed.offsets ?? {})) {
      if (typeof o === "number" && Number.isInteger(o) && o >= 0) offsets.set(Number(p), o);
    }
  } catch (err) {
    console.warn(`[event-log] unreadable group offsets ${file}; the group starts afresh`, err);
  }
  return offsets;
}
