// The README quotes committed benchmark results; each quote names its file and
// field, written **12.3%** (`name.json`: a.b.c) or **123 s** (`name.json`: a.b),
// and must say what that file holds.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { committedResult } from "../lib/eval/results";

const root = path.resolve(__dirname, "..");
const QUOTE = /\*\*(-?[\d.]+)( ?%| s| points)\*\* \(`([a-z0-9-]+)\.json`: ([\w.[\]]+)\)/g;

function field(obj: unknown, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((o, k) => {
    const m = /^(\w+)\[(\d+)\]$/.exec(k);
    if (m) return ((o as Record<string, unknown[]>)[m[1]] ?? [])[Number(m[2])];
    return (o as Record<string, unknown>)?.[k];
  }, obj);
}

test("every figure the README quotes from bench/results/ is the committed one", () => {
  const readme = readFileSync(path.join(root, "README.md"), "utf8");
  const quotes = [...readme.matchAll(QUOTE)];
  assert.ok(quotes.length >= 3, `the README should quote the laptop results with their sources; found ${quotes.length} quotes`);
  for (const [text, value, unit, name, key] of quotes) {
    const r = committedResult(name, root);
    assert.ok(r, `${text}: bench/results/${name}.json is missing`);
    const raw = field(r.result, key);
    assert.equal(typeof raw, "number", `${text}: ${name}.json has no number at ${key}`);
    const shown = unit.trim() === "%" || unit.trim() === "points" ? 100 * (raw as number) : (raw as number);
    const decimals = value.includes(".") ? value.split(".")[1].length : 0;
    assert.equal(Number(value), Number(shown.toFixed(decimals)), `${text}: the file says ${shown.toFixed(decimals)}`);
  }
});

test("the README's claims tables are the committed ones, regenerated from bench/results/claims-*.json", async () => {
  const { claimsTable } = await import("../lib/eval/claims");
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
    assert.equal(block, claimsTable(r.result), `the README's ${name} table is not the committed one; paste claimsTable's output (bench/results/${name}.md holds it)`);
  }
});
