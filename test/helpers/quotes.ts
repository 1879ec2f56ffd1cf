// Prose that quotes a committed benchmark result names its file and field:
// **12.3%** (`name.json`: a.b[2].c), **123 s**, **-2.3 points**, or a word such
// as **below resolution**. The README and the notebooks' markdown use it; the
// tests check every quote against bench/results/.
import assert from "node:assert/strict";
import { committedResult } from "../../lib/eval/results";

export const QUOTE = /\*\*([^*\n]+?)\*\* \(`([a-z0-9-]+)\.json`: ([\w.[\]]+)\)/g;

/** The value at a dotted path with [i] indices ("claims[1].figures[0].reading"). */
export function field(obj: unknown, dotted: string): unknown {
  return dotted.split(".").reduce<unknown>((o, k) => {
    const m = /^(\w+)\[(\d+)\]$/.exec(k);
    if (m) return ((o as Record<string, unknown[]>)?.[m[1]] ?? [])[Number(m[2])];
    return (o as Record<string, unknown>)?.[k];
  }, obj);
}

/** Asserts one quote equals its committed field: numbers to the decimals shown (% and points are ×100), words exactly. */
export function checkQuote(text: string, shown: string, name: string, key: string, root: string, where: string): void {
  const r = committedResult(name, root);
  assert.ok(r, `${where}: ${text}: bench/results/${name}.json is missing`);
  const raw = field(r.result, key);
  const number = /^(-?[\d.]+)( ?%| s| points)?$/.exec(shown);
  if (typeof raw === "string") {
    assert.equal(shown, raw, `${where}: ${text}: ${name}.json says "${raw}" at ${key}`);
    return;
  }
  assert.ok(number && typeof raw === "number", `${where}: ${text}: ${name}.json has no ${number ? "number" : "word"} at ${key}`);
  const unit = (number[2] ?? "").trim();
  const value = unit === "%" || unit === "points" ? 100 * raw : raw;
  const decimals = number[1].includes(".") ? number[1].split(".")[1].length : 0;
  assert.equal(Number(number[1]), Number(value.toFixed(decimals)), `${where}: ${text}: the file says ${value.toFixed(decimals)}`);
}
