// The README quotes committed benchmark results; each quote names its file and
// field, written **12.3%** (`name.json`: a.b.c) or **123 s** (`name.json`: a.b),
// and must say what that file holds.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { committedResult } from "../lib/eval/results";
import { QUOTE, checkQuote } from "./helpers/quotes";

const root = path.resolve(__dirname, "..");

test("every figure the README quotes from bench/results/ is the committed one", () => {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const quotes = [...readme.matchAll(QUOTE)];
  assert.ok(quotes.length >= 3, `the README should quote the laptop results with their sources; found ${quotes.length} quotes`);
  for (const [text, shown, name, key] of quotes) checkQuote(text, shown, name, key, root, "README.md");
});

test("the README's claims tables are the committed ones, regenerated from bench/results/claims-*.json", async () => {
  const { claimsTable } = await import("../lib/claims/table");
  const { CLAIMS_RESULTS } = await import("../lib/viz/claims");
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  for (const name of CLAIMS_RESULTS) {
    const start = `<!-- ${name}: generated from bench/results/${name}.json -->`;
    const end = `<!-- end of ${name} -->`;
    const r = committedResult<Parameters<typeof claimsTable>[0]>(name, root);
    const i = readme.indexOf(start);
    if (!r) {
      assert.equal(i, -1, `the README shows ${name} but bench/results/${name}.json is missing`);
      continue;
    }
    assert.ok(i >= 0, `bench/results/${name}.json is committed; the README should show its table between "${start}" and "${end}"`);
    const block = readme.slice(i + start.length, readme.indexOf(end, i)).trim();
    assert.equal(
      block,
      claimsTable(r.result),
      `the README's ${name} table is not the committed one; paste claimsTable's output (bench/results/${name}.md holds it)`,
    );
  }
});
