import assert from "node:assert/strict";
import { test } from "node:test";
import { pct, points, signedPoints } from "../../lib/viz/format";

test("pct writes a rate as a percentage with one decimal by default", () => {
  assert.equal(pct(0.1234), "12.3%");
  assert.equal(pct(1), "100.0%");
  assert.equal(pct(0.5, 0), "50%");
  assert.equal(pct(0.12345, 2), "12.35%");
});

test("a missing or non-finite rate is a dash, not NaN%", () => {
  assert.equal(pct(undefined), "-");
  assert.equal(pct(Number.NaN), "-");
  assert.equal(points(Number.POSITIVE_INFINITY), "-");
  assert.equal(signedPoints(undefined), "-");
});

test("points drop the sign; signedPoints always carry one", () => {
  assert.equal(points(0.256), "25.6");
  assert.equal(signedPoints(0.012), "+1.2");
  assert.equal(signedPoints(-0.004), "-0.4");
  assert.equal(signedPoints(0), "+0.0");
});
