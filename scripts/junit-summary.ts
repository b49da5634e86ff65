/**
 * Reads bun's JUnit report and prints `tests: N passed, N failed` (skipped tests count as
 * neither and are listed). Exits 1 when any test failed or the report is missing/empty.
 */
import { existsSync, readFileSync } from "node:fs";

const path = process.argv[2] ?? ".test-artifacts/junit.xml";
if (!existsSync(path)) {
  console.log(`junit report ${path} is missing`);
  console.log("tests: 0 passed, 1 failed");
  process.exit(1);
}
const xml = readFileSync(path, "utf8");
let passed = 0;
let failed = 0;
let skipped = 0;
const failures: string[] = [];
// Each <testcase ...>...</testcase> or <testcase .../>
const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
for (const m of xml.matchAll(re)) {
  const attrs = m[1] ?? "";
  const inner = m[3] ?? "";
  const name = /\bname="([^"]*)"/.exec(attrs)?.[1] ?? "?";
  const file = /\bfile="([^"]*)"/.exec(attrs)?.[1] ?? /\bclassname="([^"]*)"/.exec(attrs)?.[1] ?? "";
  if (/<(failure|error)\b/.test(inner)) {
    failed++;
    failures.push(`${file} > ${name}`);
  } else if (/<skipped\b/.test(inner)) {
    skipped++;
  } else {
    passed++;
  }
}
if (failures.length) console.log(`failed tests:\n  ${failures.join("\n  ")}`);
if (passed + failed === 0) {
  console.log("the junit report holds no test cases");
  console.log("tests: 0 passed, 1 failed");
  process.exit(1);
}
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
