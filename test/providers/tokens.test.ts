import { describe, expect, test } from "bun:test";
import { encode, encodeChat } from "gpt-tokenizer/encoding/o200k_base";
import type { ChatMessage } from "../../src/canonical/chat.ts";
import { countPromptTokens, countTextTokens, splitForStreaming, truncateToTokens } from "../../src/providers/tokens.ts";

const SAMPLES = [
  "",
  "Hello, world!",
  "The quick brown fox jumps over the lazy dog.",
  "  leading and trailing spaces  ",
  "line one\r\nline two\n\n\ttabbed\rcarriage",
  "Ünïcödé façade — naïve café",
  "日本語のテキストと中文文本",
  "emoji 👋🏽 family 👨‍👩‍👧‍👦 flag 🇩🇪 keycap 1️⃣ 🎉🎉🎉",
  "combining: e\u0301 a\u0308 n\u0303",
  "numbers 1234567890 3.14159 -42",
  "code: const x = (a) => a ** 2; // ok",
  "https://example.com/path?query=1&other=two#frag",
  "supercalifragilisticexpialidocious_and_more_and_more_letters",
  "a".repeat(100),
  "💩".repeat(40),
  "<|endoftext|> special <|im_start|> markers",
  "lone surrogate \uD83D here and \uDC4B there",
];

describe("countTextTokens", () => {
  test("counts o200k_base tokens", () => {
    expect(countTextTokens("")).toBe(0);
    expect(countTextTokens("Hello, world!")).toBe(4); // "Hello" "," " world" "!"
    expect(countTextTokens("The quick brown fox jumps over the lazy dog.")).toBe(encode("The quick brown fox jumps over the lazy dog.").length);
  });

  test("treats special-token text as plain text instead of throwing", () => {
    expect(countTextTokens("<|endoftext|>")).toBeGreaterThan(1);
    expect(countTextTokens("say <|im_start|> please")).toBeGreaterThan(4);
  });
});

describe("countPromptTokens", () => {
  test("matches the tokenizer's own chat encoding for gpt-4o", () => {
    const chat = [
      { role: "system", content: "You are a helpful assistant." },
      { role: "user", content: "What is the capital of France?" },
      { role: "assistant", content: "Paris." },
      { role: "user", content: "And of Germany? 🇩🇪" },
    ] as const;
    expect(countPromptTokens(chat as unknown as ChatMessage[])).toBe(encodeChat(chat, "gpt-4o").length);
  });

  test("3 per message + role + content, +3 priming, +1 and name tokens for a name", () => {
    const msgs: ChatMessage[] = [{ role: "user", content: "Hello, world!" }];
    expect(countPromptTokens(msgs)).toBe(3 + countTextTokens("user") + 4 + 3);
    const named: ChatMessage[] = [{ role: "user", content: "Hello, world!", name: "alice" }];
    expect(countPromptTokens(named)).toBe(countPromptTokens(msgs) + 1 + countTextTokens("alice"));
    expect(countPromptTokens([])).toBe(3);
  });

  test("counts the text of content parts and tool calls, skips images and null content", () => {
    const parts: ChatMessage[] = [
      {
        role: "user",
        content: [
          { type: "text", text: "Hello, " },
          { type: "image_url", image_url: { url: "https://example.com/cat.png" } },
          { type: "text", text: "world!" },
        ],
      },
    ];
    expect(countPromptTokens(parts)).toBe(countPromptTokens([{ role: "user", content: "Hello, world!" }]));

    const withTool: ChatMessage[] = [
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
      },
    ];
    expect(countPromptTokens(withTool)).toBe(
      3 + countTextTokens("assistant") + countTextTokens("get_weather") + countTextTokens('{"city":"Paris"}') + 3,
    );
  });
});

describe("splitForStreaming", () => {
  test("pieces concatenate exactly back to the input", () => {
    for (const text of SAMPLES) expect(splitForStreaming(text).join("")).toBe(text);
  });

  test("returns small, non-empty pieces", () => {
    expect(splitForStreaming("")).toEqual([]);
    expect(splitForStreaming("Hello, world!")).toEqual(["Hello", ",", " world", "!"]);
    for (const text of SAMPLES) {
      for (const piece of splitForStreaming(text)) {
        expect(piece.length).toBeGreaterThan(0);
        expect(piece.length).toBeLessThanOrEqual(16);
      }
    }
  });

  test("never cuts a surrogate pair", () => {
    for (const piece of splitForStreaming("💩".repeat(40) + " 👨‍👩‍👧‍👦 " + "🇩🇪".repeat(9))) {
      expect(piece.isWellFormed()).toBe(true);
    }
  });

  test("round-trips random strings of arbitrary code points", () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const ranges = [
      [0x20, 0x7e],
      [0x0a, 0x0d],
      [0xa0, 0x2ff],
      [0x400, 0x4ff],
      [0x4e00, 0x4fff],
      [0x1f300, 0x1faff],
      [0x300, 0x36f],
    ] as const;
    for (let n = 0; n < 200; n++) {
      let text = "";
      const len = Math.floor(rand() * 80);
      for (let i = 0; i < len; i++) {
        const [lo, hi] = ranges[Math.floor(rand() * ranges.length)]!;
        text += String.fromCodePoint(lo + Math.floor(rand() * (hi - lo + 1)));
      }
      expect(splitForStreaming(text).join("")).toBe(text);
    }
  });
});

describe("truncateToTokens", () => {
  test("keeps text that fits", () => {
    expect(truncateToTokens("Hello, world!", 4)).toEqual({ text: "Hello, world!", truncated: false });
    expect(truncateToTokens("", 1)).toEqual({ text: "", truncated: false });
  });

  test("cuts to at most the limit, as a prefix", () => {
    expect(truncateToTokens("Hello, world!", 2)).toEqual({ text: "Hello,", truncated: true });
    for (const text of SAMPLES.filter((t) => t.isWellFormed())) {
      const total = countTextTokens(text);
      for (const limit of [1, 2, 3, Math.floor(total / 2)]) {
        if (limit >= total) continue;
        const cut = truncateToTokens(text, limit);
        expect(cut.truncated).toBe(true);
        expect(text.startsWith(cut.text)).toBe(true);
        expect(cut.text.isWellFormed()).toBe(true);
        expect(countTextTokens(cut.text)).toBeLessThanOrEqual(limit);
      }
    }
  });

  test("uses the budget inside a long multi-token piece", () => {
    const word = "supercalifragilisticexpialidocious";
    const cut = truncateToTokens(word, 3);
    expect(cut.text.length).toBeGreaterThan(0);
    expect(word.startsWith(cut.text)).toBe(true);
    expect(countTextTokens(cut.text)).toBeLessThanOrEqual(3);
  });
});
