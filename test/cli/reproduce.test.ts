// `alexnet reproduce` as a user meets it: the table, the files, a second run that keeps
// the finished runs, and clear errors.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { tempDir } from "../helpers/notebooks";
import { prepareTinySet } from "../helpers/train";

const root = path.resolve(__dirname, "..", "..");
const bin = path.join(root, "bin", "alexnet.js");
const tmp = tempDir("alexnet-cli-reproduce-");
const alexnet = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, BENCH_OUT: path.join(tmp.dir, "results") },
  });
const data = path.join(tmp.dir, "data");
before(() => prepareTinySet(data, { seed: 5, classes: 10, trainPerClass: 2, valPerClass: 1 }));
after(() => tmp.cleanup());

test("reproduce lrn ten-patch --profile smoke: a verdict table, claims.json and .md, and the finished runs kept", () => {
  const out = path.join(tmp.dir, "claims");
  const r = alexnet(
    "reproduce",
    "lrn",
    "ten-patch",
    "--profile",
    "smoke",
    "--seeds",
    "2",
    "--data",
    data,
    "--out",
    out,
    "--results",
    "test-set",
    "--workers",
    "0",
    "--json",
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /\[1\/\d\] lrn: no LRN, seed 1/);
  assert.match(r.stdout, /\| Local response normalisation lowers the error \(3\.3\) \| valTop1Error \| -1\.4 \|/);
  const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.equal(report.status, "completed");
  assert.deepEqual(
    report.claims.map((c: { id: string }) => c.id),
    ["lrn", "ten-patch"],
  );
  assert.ok(existsSync(path.join(out, "claims.md")) && existsSync(path.join(out, "claims.json")));
  const committed = JSON.parse(readFileSync(path.join(tmp.dir, "results", "claims-test-set.json"), "utf8"));
  assert.equal(committed.benchmark, "claims-test-set");
  assert.equal(committed.engine.engine, "wasm");
  assert.ok(existsSync(path.join(tmp.dir, "results", "claims-test-set.md")));

  const again = alexnet(
    "reproduce",
    "lrn",
    "ten-patch",
    "--profile",
    "smoke",
    "--seeds",
    "2",
    "--data",
    data,
    "--out",
    out,
    "--workers",
    "0",
  );
  assert.equal(again.status, 0, again.stderr);
  // lrn: two configurations x two seeds; ten-patch: the recipe tested both ways, two seeds.
  assert.equal((again.stderr.match(/kept from an earlier run/g) ?? []).length, 6, again.stderr);
});

test("reproduce CLAIM --results NAME updates those claims in a file measured the same way, and refuses another setup", () => {
  const out = path.join(tmp.dir, "claims-update");
  const file = path.join(tmp.dir, "results", "claims-update-set.json");
  const first = alexnet(
    "reproduce",
    "lrn",
    "ten-patch",
    "--profile",
    "smoke",
    "--seeds",
    "2",
    "--data",
    data,
    "--out",
    out,
    "--results",
    "update-set",
    "--workers",
    "0",
  );
  assert.equal(first.status, 0, first.stderr);
  const before = JSON.parse(readFileSync(file, "utf8"));
  // Measure LRN again (its runs are kept, so nothing trains) and add pooling: ten-patch stays as it was.
  const again = alexnet(
    "reproduce",
    "pooling",
    "lrn",
    "--profile",
    "smoke",
    "--seeds",
    "2",
    "--data",
    data,
    "--out",
    out,
    "--results",
    "update-set",
    "--workers",
    "0",
  );
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /\(pooling, lrn updated, the other claims kept\)/);
  const after = JSON.parse(readFileSync(file, "utf8"));
  assert.deepEqual(
    after.claims.map((c: { id: string }) => c.id),
    ["lrn", "ten-patch", "pooling"],
  );
  assert.deepEqual(after.claims[1], before.claims[1], "the claim not run is kept as it was");
  assert.equal(after.date, before.date, "the first measurement's date stays at the top");
  assert.deepEqual(
    after.updates.map((u: { claims: string[] }) => u.claims),
    [["pooling", "lrn"]],
  );
  assert.match(
    readFileSync(file.replace(/json$/, "md"), "utf8"),
    /Averaging ten patches[\s\S]*Overlapping pooling/,
    "the table shows the whole file",
  );
  // Another setup (one seed) cannot share the file's table.
  const other = alexnet(
    "reproduce",
    "lrn",
    "--profile",
    "smoke",
    "--seeds",
    "1",
    "--data",
    data,
    "--out",
    out,
    "--results",
    "update-set",
    "--workers",
    "0",
  );
  assert.notEqual(other.status, 0);
  assert.match(
    other.stderr,
    /claims-update-set\.json was measured with another setup .*Run every claim \(leave CLAIM out\) to replace the file/,
  );
  assert.deepEqual(JSON.parse(readFileSync(file, "utf8")), after, "and leaves it untouched");
});

test("reproduce names what is wrong with its arguments", () => {
  const bad = alexnet("reproduce", "relu6x");
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown claim "relu6x"; the claims are: relu, lrn, pooling/);
  assert.match(alexnet("reproduce", "--seeds", "0").stderr, /--seeds 0: the number of seeds/);
  assert.match(alexnet("reproduce", "--results", "My Set").stderr, /--results My Set: a name of lowercase/);
  assert.match(alexnet("reproduce", "--help").stdout, /usage: alexnet reproduce \[CLAIM\.\.\.\]/);
});
