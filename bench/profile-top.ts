/**
 * Summarise a `.cpuprofile` (bun --cpu-prof) from `--skip` seconds on (leaving start-up out):
 * self and total time per function, hottest first.   bun bench/profile-top.ts FILE [--skip=S] [--top=N]
 * With `--inside="LABEL"` (a label as printed, e.g. "lookup src/plugins/cache.ts:118"): where the
 * time inside that function goes, by the function it called (its share of all samples).
 */
import { readFileSync } from "node:fs";

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
const file = process.argv[2];
if (!file) throw new Error("usage: bun bench/profile-top.ts FILE.cpuprofile [--skip=S] [--top=N]");
const arg = (k: string, d: number) => Number(process.argv.find((a) => a.startsWith(`--${k}=`))?.split("=")[1] ?? d);
const inside = process.argv.find((a) => a.startsWith("--inside="))?.slice("--inside=".length);
const prof = JSON.parse(readFileSync(file, "utf8")) as { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number };
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: Node) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/^.*\/(node_modules\/|src\/)/, "$1")}:${n.callFrame.lineNumber + 1}`;
const self = new Map<string, number>();
/** --inside: time under the function, by its direct callee on the path ("(self)" for its own). */
const under = new Map<string, number>();
const total = new Map<string, number>();
let t = 0;
let counted = 0;
const skipUs = arg("skip", 3) * 1e6;
prof.samples.forEach((id, i) => {
  t += prof.timeDeltas[i] ?? 0;
  if (t < skipUs) return;
  const dt = prof.timeDeltas[i + 1] ?? 1000;
  counted += dt;
  const node = byId.get(id)!;
  self.set(label(node), (self.get(label(node)) ?? 0) + dt);
  if (inside) {
    let child: number | undefined;
    for (let cur: number | undefined = id; cur !== undefined; child = cur, cur = parent.get(cur)) {
      if (label(byId.get(cur)!) !== inside) continue;
      const k = child === undefined ? "(self)" : label(byId.get(child)!);
      under.set(k, (under.get(k) ?? 0) + dt);
      break;
    }
  }
  const seen = new Set<string>();
  for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
    const l = label(byId.get(cur)!);
    if (seen.has(l)) continue;
    seen.add(l);
    total.set(l, (total.get(l) ?? 0) + dt);
  }
});
const top = arg("top", 40);
const pct = (x: number) => `${((x / counted) * 100).toFixed(1)}%`;
if (inside) {
  console.log(`inside ${inside}: ${pct([...under.values()].reduce((a, b) => a + b, 0))} of the samples, by callee:`);
  for (const [k, v] of [...under].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(v).padStart(6)}  ${k}`);
  process.exit(0);
}
console.log(`${(counted / 1e6).toFixed(2)} s sampled after the first ${skipUs / 1e6} s\n\nself:`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(v).padStart(6)}  ${k}`);
console.log("\ntotal (inclusive):");
for (const [k, v] of [...total].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`  ${pct(v).padStart(6)}  ${k}`);
