/**
 * The limits plugin's cheap prompt bound is an upper bound of the exact count for every input
 * (issue 30): fuzzed over generated chats — ASCII, long words, digits, whitespace runs, CJK,
 * emoji, combining marks, lone surrogates, special-token text, tool calls, names, content parts.
 */
import { describe, expect, test } from "bun:test";
import type { ChatMessage, ContentPart } from "../../src/canonical/chat.ts";
import { IMAGE_PART_TOKENS, promptExtras, promptTokenBoundOf } from "../../src/pipeline/prompt-bound.ts";
import { countPromptTokens, countTextTokens } from "../../src/providers/tokens.ts";
import { mulberry32 as rng } from "../helpers/rng.ts";

const ALPHABETS: string[][] = [
  [..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"],
  [..."0123456789"],
  [..." \t\n\r  "],
  [..."!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"],
  [..."的一是不了人我在有他这中大来上个国到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长知民样现分将外但身些与高意进把法此实回二理美点月明其种声全工己话儿者向情部正名定女问力机给等几很业最间新什打便位因重被走电四第门相次东政海口使教西再平真听世气信北少关并内加化由却代军产入先山五太水万市眼体别处总才场师书比住员九笑性通目华报立马命张活难神数件安表原车白应路期叫死常提感金何更反合放做系计或司利受光王果亲界及今京务制解各任至清物台象记边共风战干接它许八特觉望直服毛林题建南度统色字请交爱让认算论百吃义科怎元社术结六功指思非流每青管夫连远资队跟带花快条院变联言权往展该领传近留红治决周保达办运武半候七必城父强步完革深区即求品士转量空甚众技轻程告江语英基派满式李息写呢识极令黄德收脸钱党倒未持取设始版双历越史商千片容研像找友孩站广改议形委早房音火际则首单据导影失拿网香似斯专石若兵弟谁校读志飞观争究包组造落视济喜离虽坏兴"],
  [..."こんにちは世界カタカナ한국어Привет мир Ελληνικά עברית العربية हिन्दी ไทย"],
  ["😀", "👩‍👩‍👧‍👦", "🏳️‍🌈", "🇯🇵", "🤖", "🧪", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𠜎", "\u{1F600}\u{FE0F}"],
  ["e\u0301", "a\u0308\u0323", "\u200d", "\u200b", "\ufeff", "\u202e", "\ud800", "\udfff", "\u0000", "\u007f"],
  ["<|endoftext|>", "<|im_start|>", "<|endofprompt|>", "<|fim_prefix|>"],
];

function text(r: () => number, maxLen: number): string {
  const n = Math.floor(r() * maxLen);
  let out = "";
  const mode = r();
  while (out.length < n) {
    if (mode < 0.1) {
      // One long "word" from a single alphabet: merges stress the bound the most.
      const a = ALPHABETS[Math.floor(r() * 2)]!;
      for (let i = 0; i < n; i++) out += a[Math.floor(r() * a.length)]!;
      break;
    }
    const a = ALPHABETS[Math.floor(r() * ALPHABETS.length)]!;
    const run = 1 + Math.floor(r() * 12);
    for (let i = 0; i < run; i++) out += a[Math.floor(r() * a.length)]!;
    if (r() < 0.4) out += " ";
  }
  return out;
}

const ROLES = ["system", "developer", "user", "assistant", "tool"] as const;

function message(r: () => number): ChatMessage {
  const m: ChatMessage = { role: ROLES[Math.floor(r() * ROLES.length)]! };
  const c = r();
  if (c < 0.5) m.content = text(r, 400);
  else if (c < 0.8) {
    const parts: ContentPart[] = [];
    for (let i = 0, n = Math.floor(r() * 4); i < n; i++) {
      const k = r();
      if (k < 0.7) parts.push({ type: "text", text: text(r, 200) });
      else if (k < 0.9) parts.push({ type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=" } });
      else parts.push({ type: "input_audio", input_audio: { data: "UklGRiQAAABXQVZF", format: "wav" } } as ContentPart);
    }
    m.content = parts;
  } else if (c < 0.9) m.content = null;
  if (r() < 0.2) m.name = text(r, 20);
  if (r() < 0.2) {
    m.tool_calls = Array.from({ length: 1 + Math.floor(r() * 3) }, (_, i) => ({
      id: `call_${i}`,
      type: "function" as const,
      function: { name: text(r, 30), arguments: JSON.stringify({ q: text(r, 80), n: Math.floor(r() * 1e6), nested: { u: text(r, 20) } }) },
    }));
  }
  if (r() < 0.15) m.tool_call_id = text(r, 24);
  return m;
}

describe("promptTokenBoundOf ≥ countPromptTokens", () => {
  test("2,000 generated chats (seeded), tools and non-text parts included", () => {
    const seed = Number(process.env.PROMPT_BOUND_SEED ?? 30_2026);
    const r = rng(seed);
    let worstRatio = Infinity;
    for (let i = 0; i < 2000; i++) {
      const messages = Array.from({ length: 1 + Math.floor(r() * 6) }, () => message(r));
      const tools = r() < 0.3 ? [{ type: "function" as const, function: { name: "lookup", description: text(r, 120), parameters: { type: "object", properties: { q: { type: "string", description: text(r, 60) } } } } }] : undefined;
      const req = { messages, ...(tools ? { tools } : {}) };
      const exact = countPromptTokens(messages) + promptExtras(req, true);
      const bound = promptTokenBoundOf(messages) + promptExtras(req, false);
      if (bound < exact) throw new Error(`seed ${seed}, chat ${i}: bound ${bound} < exact ${exact}: ${JSON.stringify(messages).slice(0, 500)}`);
      worstRatio = Math.min(worstRatio, bound / exact);
    }
    expect(worstRatio).toBeGreaterThanOrEqual(1);
  });

  test("tight where it must be: one token per byte is reachable, so the bound cannot be lower in general", () => {
    // A run of distinct single-byte symbols that do not merge: the count approaches the byte count.
    const s = "\u0000\u0001\u0002\u0003\u0004\u0005\u0006\u0007";
    expect(countTextTokens(s)).toBe(Buffer.byteLength(s));
    const msgs: ChatMessage[] = [{ role: "user", content: s }];
    expect(promptTokenBoundOf(msgs)).toBeGreaterThanOrEqual(countPromptTokens(msgs));
  });

  test("edge cases: empty content, null, empty parts, a long word, 2,000 emoji, special-token text", () => {
    const cases: ChatMessage[][] = [
      [{ role: "user", content: "" }],
      [{ role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "", arguments: "" } }] }],
      [{ role: "user", content: [] }],
      [{ role: "user", content: "x".repeat(4_000) }],
      [{ role: "user", content: "qZ7".repeat(1_000) }],
      [{ role: "user", content: "🤖".repeat(2_000) }],
      [{ role: "user", content: "<|endoftext|>".repeat(1000) }],
      [{ role: "tool", content: "ok", tool_call_id: "", name: "" }],
      Array.from({ length: 500 }, () => ({ role: "user" as const, content: "" })),
    ];
    for (const m of cases) expect(promptTokenBoundOf(m)).toBeGreaterThanOrEqual(countPromptTokens(m));
  });

  test("images and other parts are billed conservatively; text parts are what the count sees", () => {
    const req = { messages: [{ role: "user" as const, content: [{ type: "text" as const, text: "hi" }, { type: "image_url" as const, image_url: { url: "https://example.com/a.png" } }] }] };
    expect(promptExtras(req, false)).toBe(IMAGE_PART_TOKENS);
    expect(promptExtras(req, true)).toBe(IMAGE_PART_TOKENS);
    const tools = [{ type: "function" as const, function: { name: "f", parameters: { type: "object" } } }];
    expect(promptExtras({ messages: req.messages, tools }, true)).toBe(IMAGE_PART_TOKENS + countTextTokens(JSON.stringify(tools)));
    expect(promptExtras({ messages: req.messages, tools }, false)).toBe(IMAGE_PART_TOKENS + Buffer.byteLength(JSON.stringify(tools)));
  });
});
