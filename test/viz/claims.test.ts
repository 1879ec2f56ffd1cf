import assert from "node:assert/strict";
import path from "node:path";
import { after, test } from "node:test";
import type { ClaimsReport } from "../../lib/claims/reading";
import { claimSentences } from "../../lib/claims/table";
import { writeResult } from "../../lib/eval/results";
import { meanSd } from "../../lib/eval/stats";
import { seedDifference } from "../../lib/eval/verdict";
import { showCommittedClaims } from "../../lib/viz/claims";
import { tempDir } from "../helpers/notebooks";

const tmp = tempDir("alexnet-viz-claims-");
after(tmp.cleanup);

/** A report of LRN over three seeds that lowers top-1 by 2 points (reproduced) and changes top-5 by nothing (below resolution). */
function report(learned: boolean): ClaimsReport {
  const without = [0.3, 0.32, 0.31];
  const withLrn = [0.28, 0.3, 0.29];
  const top5 = [0.05, 0.06, 0.05];
  const conf = (name: string, role: "control" | "treatment", top1: number[]) => ({
    name,
    role,
    learnedSeeds: learned ? 3 : 0,
    valTop1Error: meanSd(top1),
    valTop5Error: meanSd(top5),
  });
  const top1Effect = seedDifference(without, withLrn, -0.014);
  const top5Effect = seedDifference(top5, [0.06, 0.05, 0.05], -0.012);
  return {
    profile: "laptop",
    data: { dir: "data/prepared/x", classes: 10, train: 2000, val: 1000, greyscale: false, source: {} },
    budget: { epochs: 10 },
    seeds: [1, 2, 3],
    status: "completed",
    harness: 2,
    claims: [
      {
        id: "lrn",
        title: "Local response normalisation lowers the error",
        section: "3.3",
        source: "paper",
        status: "measured",
        configurations: [conf("no LRN", "control", without), conf("LRN", "treatment", withLrn)],
        learned: { ok: learned, chance: 0.9, valTop1Error: 0.31, trainFell: true },
        figures: [
          {
            metric: "valTop1Error",
            says: "",
            paper: -0.014,
            effect: top1Effect,
            verdict: top1Effect.verdict,
            reading: learned ? top1Effect.verdict : "not read",
            containsPaper: top1Effect.containsPaper,
            toResolve: { seeds: top1Effect.seedsToResolve },
          },
          {
            metric: "valTop5Error",
            says: "",
            paper: -0.012,
            effect: top5Effect,
            verdict: top5Effect.verdict,
            reading: learned ? top5Effect.verdict : "not read",
            containsPaper: top5Effect.containsPaper,
            toResolve: { seeds: top5Effect.seedsToResolve },
          },
        ],
      },
    ],
  };
}

test("claimSentences says each verdict with the measured effect against the paper's", () => {
  const [top1, top5] = claimSentences(report(true));
  assert.match(
    top1,
    /^Local response normalisation lowers the error \(3\.3\), valTop1Error: reproduced\. Measured -2\.0 \(-2\.0 to -2\.0\) against the paper's -1\.4; the interval does not hold the paper's figure\.$/,
  );
  assert.match(
    top5,
    /valTop5Error: below resolution\. Measured \+0\.0 .* against the paper's -1\.2.*; about \d+ seeds would resolve an effect of the paper's size at this spread\.$/,
  );
  assert.match(
    claimSentences(report(false))[0],
    /not read: in some seed neither configuration learned \(the gate: val top-1 at most 45\.0%, half of chance, and training error falling; no LRN learned in 0 seeds, LRN in 0\)\.$/,
  );
  // After JSON, an unreachable effect (Infinity seeds) is null: said in words, never "null seeds".
  const far = JSON.parse(
    JSON.stringify({
      ...report(true),
      claims: [{ ...report(true).claims[0], figures: [{ ...report(true).claims[0].figures[1], toResolve: { seeds: Infinity } }] }],
    }),
  );
  assert.match(claimSentences(far)[0], /an effect of the paper's size is beyond 1,000 seeds at this spread\.$/);
});

test("showCommittedClaims shows the committed table and its sentences, or says how to make one", () => {
  writeResult("claims-test", { ...report(true) }, path.join(tmp.dir, "bench", "results"));
  const logs: string[] = [];
  const original = console.log;
  console.log = (...a: unknown[]) => void logs.push(a.join(" "));
  try {
    assert.equal(showCommittedClaims(["lrn"], ["claims-test"], tmp.dir), 1);
    assert.equal(showCommittedClaims(["pooling"], ["claims-test", "claims-absent"], tmp.dir), 0);
  } finally {
    console.log = original;
  }
  const text = logs.join("\n");
  assert.match(text, /claims-test: laptop profile, 3 seeds, 2000 training and 1000 validation images/);
  assert.match(text, /valTop1Error: reproduced\. Measured -2\.0/);
  assert.match(
    text,
    /No committed measurement of pooling yet .*alexnet reproduce --profile laptop --seeds 3 --results embedded` measures every claim \(`npx alexnet reproduce pooling --profile laptop` these alone/,
  );
});
