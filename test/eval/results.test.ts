import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { committedResult, provenance, writeResult } from "../../lib/eval/results";
import { imagesSeenFigure } from "../../lib/viz/curves";
import { tempDir } from "../helpers/notebooks";

const tmp = tempDir("alexnet-results-");
after(tmp.cleanup);

test("committedResult reads bench/results/<name>.json with its date and machine, and names a broken file", () => {
  const dir = path.join(tmp.dir, "bench", "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    path.join(dir, "laptop-profile.json"),
    JSON.stringify({
      benchmark: "laptop-profile",
      date: "2026-12-02T05:00:00.000Z",
      machine: { cpu: "AMD EPYC", threads: 2 },
      engine: { engine: "wasm" },
      summary: { x: 1 },
    }),
  );
  const r = committedResult<{ summary: { x: number } }>("laptop-profile", tmp.dir);
  assert.ok(r);
  assert.equal(r.result.summary.x, 1);
  assert.equal(r.date, "2026-12-02T05:00:00.000Z");
  assert.match(provenance(r), /^measured 2026-12-02 on AMD EPYC \(2 threads\), wasm/);
  assert.equal(committedResult("memorisation", tmp.dir), undefined, "absent is undefined, not an error");
  writeFileSync(path.join(dir, "broken.json"), "{ not json");
  assert.throws(() => committedResult("broken", tmp.dir), /broken\.json is not valid JSON .*bench\/broken\.ts/);
  writeFileSync(path.join(dir, "other.json"), JSON.stringify({ benchmark: "something-else", date: "x" }));
  assert.throws(() => committedResult("other", tmp.dir), /is not the result of bench\/other\.ts/);
  assert.throws(() => committedResult("../etc/passwd", tmp.dir), /is not a result name/);
});

test("writeResult writes what committedResult reads back: the name, a date and the machine", () => {
  const file = writeResult("claims-test", { summary: { y: 2 } }, path.join(tmp.dir, "bench", "results"));
  const r = committedResult<{ summary: { y: number } }>("claims-test", tmp.dir);
  assert.ok(r);
  assert.equal(r.file, file);
  assert.equal(r.result.summary.y, 2);
  assert.ok(Math.abs(Date.parse(r.date) - Date.now()) < 60_000);
  assert.equal(typeof r.machine.cpu, "string");
  assert.throws(() => writeResult("Claims Test", {}, tmp.dir), /not a result name/);
});

test("provenance lists the claims a file measured again, with their dates", () => {
  writeResult(
    "claims-updated",
    { engine: { engine: "wasm" }, updates: [{ date: "2026-12-06T23:00:00Z", claims: ["dropout"] }] },
    path.join(tmp.dir, "bench", "results"),
  );
  const r = committedResult("claims-updated", tmp.dir)!;
  assert.match(provenance(r), /, wasm; dropout measured again 2026-12-06 \(.*claims-updated\.json\)$/);
});

test("imagesSeenFigure puts runs of different epoch sizes on one axis of images seen", () => {
  const big = [
    { epoch: 1, valTop1Error: 0.5 },
    { epoch: 2, valTop1Error: 0.3 },
  ];
  const small = [{ epoch: 1, valTop1Error: 0.8 }];
  const fig = imagesSeenFigure(
    [
      { name: "big", history: big, imagesPerEpoch: 10000 },
      { name: "small", history: small, imagesPerEpoch: 2600 },
    ],
    "valTop1Error",
    { title: "t", yTitle: "error", chance: 0.9 },
  );
  assert.deepEqual(fig.data[0].x, [10, 20]);
  assert.deepEqual(fig.data[1].x, [2.6]);
  assert.deepEqual(fig.data[2], { type: "scatter", mode: "lines", name: "chance", x: [0, 20], y: [0.9, 0.9] });
  assert.throws(
    () => imagesSeenFigure([{ name: "x", history: [{ epoch: 1 }], imagesPerEpoch: 1 }], "valTop1Error", { title: "", yTitle: "" }),
    /epoch 1 of "x" has no number "valTop1Error"/,
  );
});
