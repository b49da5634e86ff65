/**
 * The runnable shell snippets of README.md and docs/*.md: fenced blocks whose info string is
 * `sh runnable` (or `bash runnable`). See docs/contributing-docs.md for the convention.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export interface Snippet {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  body: string;
}

/** Every fenced block of `text` with its language and info-string words. */
export function fencedBlocks(text: string): Array<{ line: number; lang: string; tags: string[]; body: string }> {
  const lines = text.split("\n");
  const out: Array<{ line: number; lang: string; tags: string[]; body: string }> = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})\s*([\w-]*)(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const fence = open[1]!;
    let j = i + 1;
    while (j < lines.length && !lines[j]!.startsWith(fence)) j++;
    out.push({ line: i + 1, lang: open[2]!, tags: open[3]!.trim().split(/\s+/).filter(Boolean), body: lines.slice(i + 1, j).join("\n") });
    i = j;
  }
  return out;
}

export const isShell = (lang: string) => lang === "sh" || lang === "bash";

/** The documentation pages: README.md and every docs/*.md. */
export function docPages(repo: string): string[] {
  return ["README.md", ...readdirSync(join(repo, "docs")).filter((f) => f.endsWith(".md")).sort().map((f) => `docs/${f}`)];
}

export function runnableSnippets(repo: string, file: string): Snippet[] {
  return fencedBlocks(readFileSync(join(repo, file), "utf8"))
    .filter((b) => isShell(b.lang) && b.tags.includes("runnable"))
    .map((b) => ({ file, line: b.line, body: b.body }));
}
