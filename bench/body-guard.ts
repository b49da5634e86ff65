/**
 * Cost of the JSON body guard (src/api/json-guard.ts: UTF-8 check, NUL search, depth and number
 * walk) against plain `text()` + `JSON.parse`, in the same run, alternated.
 *
 *   bun bench/body-guard.ts
 */
import { checkJsonText, checkJsonValue, decodeUtf8 } from "../src/api/json-guard.ts";

const chat = (messages: number, chars: number) =>
  JSON.stringify({ model: "echo", temperature: 0.7, max_tokens: 256, messages: Array.from({ length: messages }, (_, i) => ({ role: i % 2 ? "assistant" : "user", content: "lorem ipsum ".repeat(Math.ceil(chars / 12)).slice(0, chars) })) });

const bodies = { "small chat (1 message, 2 KB)": chat(1, 2000), "long chat (50 messages, 100 KB)": chat(50, 2000), "large body (1 message, 1 MB)": chat(1, 1_000_000) };

function time(fn: () => void, n: number): number {
  const t0 = Bun.nanoseconds();
  for (let i = 0; i < n; i++) fn();
  return (Bun.nanoseconds() - t0) / n / 1000;
}

console.log("| body | plain (µs) | guarded (µs) | added (µs) |\n| --- | --- | --- | --- |");
for (const [name, text] of Object.entries(bodies)) {
  const bytes = new TextEncoder().encode(text);
  const n = Math.max(50, Math.floor(2e7 / bytes.length));
  const plain = () => JSON.parse(new TextDecoder().decode(bytes));
  const guarded = () => {
    const t = decodeUtf8(bytes);
    checkJsonValue(JSON.parse(t), checkJsonText(t));
  };
  const p: number[] = [];
  const g: number[] = [];
  for (let round = 0; round < 5; round++) {
    p.push(time(plain, n));
    g.push(time(guarded, n));
  }
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  console.log(`| ${name} | ${med(p).toFixed(1)} | ${med(g).toFixed(1)} | ${(med(g) - med(p)).toFixed(1)} |`);
}
