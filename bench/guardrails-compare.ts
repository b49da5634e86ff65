/**
 * Guardrails scan speed: this tree's detectors against a baseline tree's (e.g. the main checkout),
 * loaded side by side in ONE process and run alternately (A, B, A, B, …) on the same inputs, so
 * machine load hits both alike. The pure core only: `Redactor.process` with every type on, `redact`.
 *
 *   GUARDRAILS_BASELINE=/path/to/other/checkout bun bench/guardrails-compare.ts
 *
 * Inputs: the prose of bench/guardrails.ts (its PII repeats every few sentences), the same prose
 * with every PII value unique (fresh phones of ten regions, cards, IBANs: no repeated candidate,
 * so no memo helps), prose without PII, and 1 MiB of digit groups (adversarial).
 */
import { resolve } from "node:path";

const baseline = process.env.GUARDRAILS_BASELINE;
if (!baseline) throw new Error("set GUARDRAILS_BASELINE to the checkout to compare against (e.g. /work/main)");

type RedactorCtor = new (p: unknown) => { process(text: string, dir: "input" | "output"): { text: string } };
interface Tree { name: string; Redactor: RedactorCtor; policy: unknown }
async function load(name: string, root: string): Promise<Tree> {
  const cfg = await import(resolve(root, "src/guardrails/config.ts"));
  const red = await import(resolve(root, "src/guardrails/redact.ts"));
  return { name, Redactor: red.Redactor, policy: cfg.compilePolicy(cfg.effectiveFields({ pii: { action: "redact" } }, undefined)) };
}
const trees = [await load("baseline", baseline), await load("this tree", resolve(import.meta.dir, ".."))];

const PROSE = "The quarterly report is attached; please review section 4.2 before the meeting on 2024-03-15 at 10:30. Prices rose to $1,299.00 and order #482913 shipped via 1Z999AA10123456784. ";
const PII = ["Contact jane.doe@example.com or +84 912 345 678. ", "Card 4111 1111 1111 1111 was charged. ", "SSN 123-45-6789 on file. ", "Key sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD leaked. ", "Server 192.168.10.24 is down. "];
const fill = (chars: number, pii: (i: number) => string) => {
  let s = "";
  for (let i = 0; s.length < chars; i++) s += i % 4 === 3 ? pii(i) : PROSE;
  return s.slice(0, chars);
};
const pad = (n: number, w: number) => String(n % 10 ** w).padStart(w, "0");
function luhnCard(prefix: string, n: number): string {
  const body = prefix + pad(n * 7919, 16 - prefix.length - 1);
  for (let d = 0; d <= 9; d++) {
    const s = body + d;
    let sum = 0;
    for (let i = s.length - 1, alt = false; i >= 0; i--, alt = !alt) {
      let x = s.charCodeAt(i) - 48;
      if (alt && (x *= 2) > 9) x -= 9;
      sum += x;
    }
    if (sum % 10 === 0) return s.replace(/(\d{4})(?=\d)/g, "$1 ");
  }
  return body;
}
/** Every value different: phones of the ten default regions (national and +), cards, e-mails. */
const unique = (i: number) => {
  const k = i * 37;
  const phones = [`+44 20 7946 ${pad(k, 4)}`, `(415) 555-${pad(k, 4)}`, `06 12 ${pad(k, 2)} ${pad(k >> 3, 2)} ${pad(k >> 5, 2)}`, `030 ${pad(k, 8)}`, `+39 06 6982 ${pad(k, 4)}`, `0412 ${pad(k, 3)} ${pad(k >> 2, 3)}`, `+91 98765 ${pad(k, 5)}`, `(11) 98765-${pad(k, 4)}`, `0912 ${pad(k, 3)} ${pad(k >> 4, 3)}`, `+34 912 34 ${pad(k, 2)} ${pad(k >> 3, 2)}`];
  return `Call ${phones[i % phones.length]} or write to user${i}@example.com; card ${luhnCard(["4", "51", "6759", "35"][i % 4]!, i)} was charged. `;
};
const INPUTS: Array<[string, string]> = [
  ["prose with PII (repeating values), every type", fill(1 << 20, (i) => PII[i % PII.length]!)],
  ["prose with PII, every value unique", fill(1 << 20, unique)],
  ["prose without PII", fill(1 << 20, () => PROSE)],
  ["1 MiB of digits and spaces", "1234 ".repeat(1 << 18).slice(0, 1 << 20)],
];

const ROUNDS = Number(process.env.ROUNDS ?? 5);
console.log(`\n### Scan speed: this tree vs ${baseline} (same process, alternating, ${ROUNDS} rounds each; median)\n`);
console.log("| input | size | baseline | this tree | this / baseline |\n| --- | --- | --- | --- | --- |");
for (const [label, input] of INPUTS) {
  const ms: number[][] = trees.map(() => []);
  for (const t of trees) new t.Redactor(t.policy).process(input.slice(0, 65536), "input"); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, t] of (r % 2 ? [...trees.entries()].reverse() : [...trees.entries()])) {
      const t0 = performance.now();
      new t.Redactor(t.policy).process(input, "input");
      ms[i]!.push(performance.now() - t0);
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const [a, b] = [med(ms[0]!), med(ms[1]!)];
  const mbs = (x: number) => `${x.toFixed(1)} ms (${(input.length / 1e6 / (x / 1000)).toFixed(1)} MB/s)`;
  console.log(`| ${label} | ${(input.length / 1024).toFixed(0)} KiB | ${mbs(a)} | ${mbs(b)} | ${(b / a).toFixed(2)} |`);
}
