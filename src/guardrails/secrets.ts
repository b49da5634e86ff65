/**
 * Credentials: OpenAI / Anthropic API keys, AWS access key ids, GitHub and Slack tokens,
 * Google API keys, Stripe secret keys, JWTs, PEM private key blocks and Tollgate's own `tg-`
 * virtual keys. Each pattern starts with a fixed prefix, so the scan is linear.
 */
import { collect, type Finding } from "./types.ts";

const PATTERNS: RegExp[] = [
  /(?<![\w-])sk-(?:ant-(?:api|admin)\d{2}-|proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/g, // OpenAI, Anthropic
  /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])/g, // AWS access key id
  /(?<![\w])gh[pousr]_[A-Za-z0-9]{36,255}(?![\w])/g, // GitHub
  /(?<![\w])github_pat_[A-Za-z0-9_]{22,255}/g,
  /(?<![\w])xox[abposre]-[A-Za-z0-9-]{10,250}/g, // Slack tokens
  /https:\/\/hooks\.slack\.com\/services\/T[A-Z0-9]+\/B[A-Z0-9]+\/[A-Za-z0-9]+/g, // Slack webhook
  /(?<![\w-])AIza[0-9A-Za-z_-]{35}(?![\w-])/g, // Google API key
  /(?<![\w])(?:sk|rk)_live_[0-9A-Za-z]{24,99}(?![\w])/g, // Stripe
  /(?<![\w-])tg-[0-9A-Za-z]{32}(?![\w-])/g, // Tollgate virtual keys
];

const JWT = /(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}(?![\w-])/g;

function jwtHeaderOk(token: string): boolean {
  try {
    const header = JSON.parse(Buffer.from(token.slice(0, token.indexOf(".")), "base64url").toString("utf8")) as unknown;
    return typeof header === "object" && header !== null && "alg" in header;
  } catch {
    return false;
  }
}

const PEM_BEGIN = /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----/g;
const PEM_END = /-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----/g;

const PEM_BODY = /[\sA-Za-z0-9+/=:,-]*/y;

/**
 * PEM private key blocks; an unterminated block is redacted to the end of its base64 body.
 * One pass (issue 22: a text repeating the BEGIN marker made it rescan the rest of the text for
 * each marker): the END marker found (or known absent) from one position is reused for every
 * later BEGIN before it, and the body is matched in place, without copying the rest of the text.
 */
function detectPem(text: string): Finding[] {
  const out: Finding[] = [];
  // The first END at or after `endFrom`: null = none from there to the end of the text.
  let end: { index: number; stop: number } | null | undefined;
  let endFrom = -1;
  PEM_BEGIN.lastIndex = 0;
  for (let m = PEM_BEGIN.exec(text); m; m = PEM_BEGIN.exec(text)) {
    const from = m.index + m[0].length;
    if (end === undefined || (end !== null && end.index < from) || endFrom > from) {
      PEM_END.lastIndex = from;
      const e = PEM_END.exec(text);
      end = e ? { index: e.index, stop: e.index + e[0].length } : null;
      endFrom = from;
    }
    let stop: number;
    if (end) stop = end.stop;
    else {
      PEM_BODY.lastIndex = from;
      PEM_BODY.exec(text);
      stop = PEM_BODY.lastIndex;
    }
    out.push({ type: "secret", start: m.index, end: stop });
    PEM_BEGIN.lastIndex = Math.max(stop, from);
  }
  return out;
}

export function detectSecrets(text: string): Finding[] {
  const out: Finding[] = [];
  for (const re of PATTERNS) out.push(...collect(re, text, "secret", () => true));
  out.push(...collect(JWT, text, "secret", (m) => jwtHeaderOk(m[0])));
  if (text.includes("-----BEGIN")) out.push(...detectPem(text));
  return out;
}
