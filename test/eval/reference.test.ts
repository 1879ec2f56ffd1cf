import assert from "node:assert/strict";
import { test } from "node:test";
import { paperTenPatchGain, REFERENCE_RESULTS } from "../../lib/eval/reference";

test("the reference rows: the paper's ILSVRC-2010 numbers, both protocols, and the implementations' accuracies as errors", () => {
  const gain = paperTenPatchGain();
  // Section 6: 37.5/17.0 with ten patches, 39.0/18.3 without.
  assert.ok(Math.abs(gain.top1 - 0.015) < 1e-12);
  assert.ok(Math.abs(gain.top5 - 0.013) < 1e-12);
  const torchvision = REFERENCE_RESULTS.find((r) => r.who.startsWith("torchvision"));
  assert.ok(torchvision && Math.abs(torchvision.top1Error - 0.43478) < 1e-9 && Math.abs(torchvision.top5Error - 0.20934) < 1e-9);
  for (const r of REFERENCE_RESULTS) {
    assert.ok(r.top5Error < r.top1Error && r.top1Error < 1 && r.top5Error > 0, r.who);
    assert.ok(r.source.length > 0, `${r.who} names its source`);
  }
});
