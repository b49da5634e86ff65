import { readFileSync } from "node:fs";
const [file, fn] = [process.argv[2]!, process.argv[3]!];
const prof = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(prof.nodes.map((n: any) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: any) => `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.replace(/^.*\/(node_modules\/|src\/)/, "$1")}:${n.callFrame.lineNumber + 1}`;
const agg = new Map<string, number>(); let tot = 0, all = 0;
prof.samples.forEach((id: number, i: number) => { all++; const n: any = byId.get(id); if ((n.callFrame.functionName || "(anonymous)") !== fn) return; tot++;
  let chain: string[] = []; let cur = parent.get(id); for (let k = 0; k < 2 && cur !== undefined; k++) { chain.push(label(byId.get(cur))); cur = parent.get(cur); }
  const key = chain.join(" <- "); agg.set(key, (agg.get(key) ?? 0) + 1); });
console.log(fn, (100 * tot / all).toFixed(1) + "%");
for (const [k, v] of [...agg].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log((100 * v / all).toFixed(2) + "%", k);
