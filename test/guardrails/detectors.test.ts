/** The pure core: detector rules, overlaps, placeholders, and the stream hold-back. */
import { describe, expect, test } from "bun:test";
import { compilePolicy, effectiveFields, type GuardrailsFields } from "../../src/guardrails/config.ts";
import { ibanOk, knownIin, luhnOk } from "../../src/guardrails/financial.ts";
import { Redactor } from "../../src/guardrails/redact.ts";
import { scanText } from "../../src/guardrails/scan.ts";
import { holdFrom, StreamScanner } from "../../src/guardrails/stream.ts";
import { PII_TYPES, type PiiType } from "../../src/guardrails/types.ts";
import { validCccd } from "../../src/guardrails/vn-id.ts";

const ALL = new Set<PiiType>(PII_TYPES);
const types = (text: string) => scanText(text, { types: ALL }).map((f) => `${f.type}:${text.slice(f.start, f.end)}`);
const redactor = (fields: GuardrailsFields) => new Redactor(compilePolicy(effectiveFields(fields, undefined)));

describe("detector rules", () => {
  test("cards: Luhn, IIN ranges and lengths", () => {
    expect(luhnOk("4111111111111111")).toBe(true);
    expect(luhnOk("4111111111111112")).toBe(false);
    expect(knownIin("4111111111111111")).toBe(true);
    expect(knownIin("378282246310005")).toBe(true); // Amex, 15
    expect(knownIin("3782822463100050")).toBe(false); // Amex prefix, wrong length
    expect(knownIin("1111111111111117")).toBe(false); // no such issuer
    expect(types("pay 4111-1111-1111-1111 now")).toEqual(["card:4111-1111-1111-1111"]);
    expect(types("mixed 4111 1111-1111 1111")).toEqual([]); // inconsistent separators
    expect(types("order 41111111111111111111")).toEqual([]); // 20 digits: not a card
  });

  test("IBAN: mod-97 and the country's length", () => {
    expect(ibanOk("DE89370400440532013000")).toBe(true);
    expect(ibanOk("DE89370400440532013001")).toBe(false);
    expect(ibanOk("DE8937040044053201300")).toBe(false); // one short
    expect(types("to GB29 NWBK 6016 1331 9268 19.")).toEqual(["iban:GB29 NWBK 6016 1331 9268 19"]);
  });

  test("SSN: area 000, 666, 900–999, group 00 and serial 0000 are not SSNs", () => {
    expect(types("SSN 123-45-6789")).toEqual(["ssn:123-45-6789"]);
    for (const bad of ["000-12-3456", "666-12-3456", "912-12-3456", "123-00-4567", "123-45-0000"]) expect(types(`SSN ${bad}`)).toEqual([]);
    expect(types("ssn: 123456789")).toEqual(["ssn:123456789"]); // bare only near the word
    expect(types("ref 123456789")).toEqual([]);
  });

  test("Vietnamese CMND / CCCD only near context words; CCCD province and century digits", () => {
    expect(validCccd("001203012345")).toBe(true);
    expect(validCccd("097203012345")).toBe(false); // province 097 does not exist
    expect(validCccd("001903012345")).toBe(false); // century/gender digit 9
    expect(types("Số CCCD: 001203012345")).toEqual(["vn_id:001203012345"]);
    expect(types("CMND 123456789")).toEqual(["vn_id:123456789"]);
    expect(types("Mã giao dịch 001203012345")).toEqual([]);
  });

  test("phones: E.164, US and Vietnamese numbers validated by libphonenumber", () => {
    expect(types("call +84 912 345 678")).toEqual(["phone:+84 912 345 678"]);
    expect(types("gọi 0912345678")).toEqual(["phone:0912345678"]);
    expect(types("call (415) 555-2671")).toEqual(["phone:(415) 555-2671"]);
    expect(types("order 5488518533 shipped")).toEqual([]);
    expect(types("at 2024-03-15 10:30")).toEqual([]);
  });

  test("IPs; versions, times and MACs are not", () => {
    expect(types("from 192.168.1.20.")).toEqual(["ip:192.168.1.20"]);
    expect(types("from 2001:db8::8a2e:370:7334")).toEqual(["ip:2001:db8::8a2e:370:7334"]);
    expect(types("v1.2.3 at 10:30:00, mac 00:1A:2B:3C:4D:5E, 999.1.1.1")).toEqual([]);
  });

  test("secrets: each family", () => {
    const jwt = `${Buffer.from('{"alg":"HS256"}').toString("base64url")}.${Buffer.from('{"sub":"123456"}').toString("base64url")}.abcdefghijklmnopqrstuvwxyz012345`;
    for (const s of [`sk-proj-${"x1".repeat(24)}`, `sk-ant-api03-${"Ab9_".repeat(20)}`, "AKIAIOSFODNN7EXAMPLE", `ghp_${"a".repeat(36)}`, `xoxb-123456789012-abcdefghijkl`, `tg-${"A1b2".repeat(8)}`, jwt]) {
      expect(types(`token ${s} end`)).toEqual([`secret:${s}`]);
    }
    const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----";
    expect(types(`key:\n${pem}\nbye`)).toEqual([`secret:${pem}`]);
    expect(types(`uuid 123e4567-e89b-12d3-a456-426614174000 sha ${"ab12".repeat(16)}`)).toEqual([]);
  });
});

describe("placeholders", () => {
  test("the same value gets the same placeholder; numbering per type", () => {
    const r = redactor({ pii: { action: "redact" } });
    expect(r.process("a@b.co, c@d.co, a@b.co, +84 912 345 678", "input").text).toBe("[EMAIL_1], [EMAIL_2], [EMAIL_1], [PHONE_1]");
    expect(r.process("again c@d.co", "input").text).toBe("again [EMAIL_2]");
  });

  test("restore puts values back only for restore types", () => {
    const r = redactor({ pii: { action: "restore", actions: { card: "redact" } } });
    r.process("a@b.co 4111111111111111", "input");
    expect(r.processOutput("[EMAIL_1] / [CARD_1] / [EMAIL_9]")).toBe("a@b.co / [CARD_1] / [EMAIL_9]");
  });
});

describe("stream hold-back", () => {
  const text = "Hi! Mail jane.doe@example.com or call +84 912 345 678; card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00. Bye [EMAIL_1] now.";
  const fields: GuardrailsFields = { pii: { action: "restore", actions: { card: "redact", iban: "redact" } } };

  test("any split of the stream gives exactly what the whole text gives", () => {
    const whole = redactor(fields);
    whole.process("x jane.doe@example.com", "input");
    const expected = whole.processOutput(text);
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let trial = 0; trial < 200; trial++) {
      const r = redactor(fields);
      r.process("x jane.doe@example.com", "input");
      const s = new StreamScanner(r);
      let out = "";
      for (let i = 0; i < text.length; ) {
        const n = 1 + Math.floor(rnd() * 12);
        out += s.push(text.slice(i, i + n));
        i += n;
      }
      out += s.flush();
      expect(out).toBe(expected);
    }
    expect(expected).toContain("jane.doe@example.com");
    expect(expected).toContain("[CARD_1]");
  });

  test("holds back only what could still become a match", () => {
    const r = redactor({ pii: { action: "redact" } });
    expect(holdFrom("hello world ", r)).toBe(12); // nothing
    expect(holdFrom("hello wor", r)).toBe(6); // the partial word
    expect(holdFrom("card 4111 1111 ", r)).toBe(5); // a digit group that may continue
    const withTerm = redactor({ blocklist: [{ pattern: "Project Falcon", kind: "term", action: "redact", direction: "output" }] });
    expect(holdFrom("we discussed the project ", withTerm)).toBe(17); // "project " may become "Project Falcon"
    expect(holdFrom("we discussed the plan ", withTerm)).toBe(22);
    const t = new StreamScanner(withTerm);
    expect(t.push("about project ") + t.push("falc") + t.push("on today ") + t.flush()).toBe("about [BLOCKED_1] today ");
    const s = new StreamScanner(r);
    expect(s.push("The answer is ")).toBe("The answer is ");
    expect(s.push("jane@exa")).toBe("");
    expect(s.push("mple.com and more")).toBe("[EMAIL_1] and ");
    expect(s.flush()).toBe("more");
  });
});
