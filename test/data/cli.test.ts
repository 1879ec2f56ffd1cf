// `alexnet prepare` and `alexnet show` as a user meets them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import sharp from "sharp";
import { tempDir } from "../helpers/notebooks";

const root = path.resolve(__dirname, "..", "..");
const tmp = tempDir("alexnet-cli-");
after(tmp.cleanup);
const alexnet = (...args: string[]) => spawnSync(process.execPath, [path.join(root, "bin", "alexnet.js"), ...args], { cwd: root, encoding: "utf8" });

test("prepare a small synthetic set, then show a record as a PNG", async () => {
  const out = path.join(tmp.dir, "syn");
  const r = alexnet("prepare", "--format", "synthetic", "--out", out, "--train-per-class", "2", "--val-per-class", "1", "--size", "64", "--json");
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.deepEqual(summary.written, { train: 20, val: 10 });
  assert.equal(summary.complete, true);
  assert.match(r.stdout, /prepared .*: 20 train, 10 val records written/);

  const png = path.join(tmp.dir, "rec.png");
  const s = alexnet("show", "--data", out, "--split", "val", "--index", "3", "--out", png);
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /val record 3, label 3 \(wavy-star\), 64x64, from synthetic:seed=1\/val\/000003/);
  const meta = await sharp(readFileSync(png)).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ["png", 64, 64]);
});

test("wrong flags and paths get one-line errors naming them", () => {
  const cases: [string[], RegExp, number][] = [
    [["prepare", "--out", "x"], /--format is required/, 2],
    [["prepare", "--format", "jpeg", "--out", "x"], /--format jpeg: use one of imagefolder/, 2],
    [["prepare", "--format", "imagefolder", "--out", "x"], /--source PATH is required for --format imagefolder/, 2],
    [["prepare", "--format", "imagefolder", "--source", "/no/such/dir", "--out", "x"], /\/no\/such\/dir: no such folder/, 1],
    [["prepare", "--format", "synthetic", "--out", "x", "--shard", "3/2"], /--shard 3\/2: expected I\/N/, 1],
    [["prepare", "--format", "synthetic", "--out", "x", "--kernel", "bicubic"], /--kernel bicubic: use one of nearest/, 2],
    [["prepare", "--format", "synthetic", "--out", "x", "--jobs", "0"], /--jobs 0: expected a whole number of at least 1/, 2],
    [["prepare", "--format", "synthetic", "--out", "x", "--colour"], /Unknown option '--colour'/, 2],
    [["show", "--data", "/no/such/data", "--out", "x.png"], /\/no\/such\/data does not exist/, 1],
    [["frobnicate"], /unknown command 'frobnicate'/, 2],
  ];
  for (const [args, message, status] of cases) {
    const r = alexnet(...args);
    assert.equal(r.status, status, `${args.join(" ")}: exit ${r.status}, stderr ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
  }
});
