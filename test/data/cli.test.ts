// `alexnet prepare` and `alexnet show` as a user meets them.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import sharp from "sharp";
import { resumeCommand } from "../../lib/cli/prepare";
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
  assert.match(r.stdout, /verified: all 2 shards match the manifest's sha256/, "a finished dataset is read back once");

  const png = path.join(tmp.dir, "rec.png");
  const s = alexnet("show", "--data", out, "--split", "val", "--index", "3", "--out", png);
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /val record 3, label 3 \(wavy-star\), 64x64, from synthetic:seed=1\/val\/000003/);
  const meta = await sharp(readFileSync(png)).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ["png", 64, 64]);
});

test("prepare --max-pixels skips larger images, saying why and how to raise the limit", async () => {
  const src = path.join(tmp.dir, "folder");
  for (const [cls, w, h] of [["a", 40, 30], ["a", 20, 20], ["b", 20, 20], ["b", 30, 30]] as const) {
    mkdirSync(path.join(src, "train", cls), { recursive: true });
    mkdirSync(path.join(src, "val", cls), { recursive: true });
    const png = await sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 10, b: 10 } } }).png().toBuffer();
    writeFileSync(path.join(src, "train", cls, `${w}x${h}.png`), png);
    writeFileSync(path.join(src, "val", cls, `${w}x${h}.png`), png);
  }
  const out = path.join(tmp.dir, "bounded");
  const r = alexnet("prepare", "--format", "imagefolder", "--source", src, "--out", out, "--size", "16", "--max-pixels", "800", "--json");
  assert.equal(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  assert.deepEqual(summary.written, { train: 2, val: 2 }, "the 40x30 and 30x30 images (1,200 and 900 pixels) are skipped");
  assert.match(r.stdout + r.stderr, /40x30\.png.*too many pixels/);
  assert.match(r.stdout + r.stderr, /--max-pixels N/);
});

test("Ctrl-C in prepare says the finished shards are kept and gives the command that carries on", async () => {
  const out = path.join(tmp.dir, "stopped");
  const args = ["prepare", "--format", "synthetic", "--out", out, "--train-per-class", "60", "--val-per-class", "2", "--size", "64", "--records-per-shard", "50"];
  const child = spawn(process.execPath, [path.join(root, "bin", "alexnet.js"), ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  while (!/shard 2/.test(stderr) && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  child.kill("SIGINT");
  assert.equal(await exited, 130, stderr);
  assert.match(stderr, new RegExp(`stopped\\. Finished shards in ${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} are kept; carry on with the same command:\n  alexnet prepare --format synthetic --out ${out.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} --train-per-class 60`));
  const again = alexnet(...args, "--json");
  assert.equal(again.status, 0, again.stderr);
  const summary = JSON.parse(again.stdout.trim().split("\n").at(-1)!);
  assert.equal(summary.complete, true);
  assert.ok(summary.shards.resumed >= 1, "the shards finished before Ctrl-C were kept");
});

test("prepare writes only into an empty folder or its own dataset: other files are listed and refused (exit 2) unless --force", () => {
  const out = path.join(tmp.dir, "shared");
  mkdirSync(out);
  writeFileSync(path.join(out, "notes.txt"), "mine");
  const args = ["prepare", "--format", "synthetic", "--out", out, "--train-per-class", "2", "--val-per-class", "1", "--size", "32"];
  const refused = alexnet(...args);
  assert.equal(refused.status, 2, refused.stderr);
  assert.match(refused.stderr, /holds files that are not a prepared dataset's \(notes\.txt\); choose an empty folder, or pass --force/);
  const forced = alexnet(...args, "--force");
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal(readFileSync(path.join(out, "notes.txt"), "utf8"), "mine");
  const own = path.join(tmp.dir, "own");
  assert.equal(alexnet(...args.slice(0, 4), own, ...args.slice(5)).status, 0);
  const again = alexnet(...args.slice(0, 4), own, ...args.slice(5));
  assert.equal(again.status, 0, "the same dataset again: every shard is already done");
  assert.match(again.stdout, /2 were already done/);
  const other = alexnet(...args.slice(0, 4), own, ...args.slice(5, -1), "24");
  assert.equal(other.status, 2, "another dataset's shards are refused as a folder in use");
  assert.match(other.stderr, /was prepared with other options|was made with preprocessing/);
});

test("resumeCommand quotes what a shell would split", () => {
  assert.equal(resumeCommand(["--out", "my data", "--json", "--source", "it's"]), "alexnet prepare --out 'my data' --source 'it'\\''s'");
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
