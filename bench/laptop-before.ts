// The laptop profile as it was before the embedded set's design 2 and the
// recipe of issue 12: checks out that commit in a temporary git worktree (this
// checkout's node_modules linked in), and runs there, with that commit's own
// code, (1) `alexnet train --profile laptop` and (2) the same recipe on 200
// embedded images for 40 epochs, the memorisation check that failed. Writes
// bench/results/laptop-before.json, which notebook 08 sets beside the run it
// trains now. Needs the git history (a full clone).
// Usage: npm run bench -- bench/laptop-before.ts [--commit 150b69e]
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { option, writeResult } from "./common";

const root = path.resolve(__dirname, "..");
// The last commit with embedded-set design 1 and the 20-epoch, lr 0.01, plateau laptop recipe.
const commit = execFileSync("git", ["rev-parse", option("commit", "150b69e")], { cwd: root, encoding: "utf8" }).trim();
const load = () => os.loadavg().map((l) => Number(l.toFixed(2)));

function metrics(runDir: string): Record<string, number | string>[] {
  return readFileSync(path.join(runDir, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));
}

function alexnet(cwd: string, args: string[]): number {
  const t0 = performance.now();
  execFileSync(process.execPath, ["bin/alexnet.js", ...args], { cwd, stdio: ["ignore", "inherit", "inherit"] });
  return (performance.now() - t0) / 1000;
}

const tree = mkdtempSync(path.join(os.tmpdir(), "alexnet-before-"));
try {
  execFileSync("git", ["worktree", "add", "--detach", tree, commit], { cwd: root, stdio: "ignore" });
  symlinkSync(path.join(root, "node_modules"), path.join(tree, "node_modules"));
  const full = path.join(tree, "runs", "laptop");
  const loadBefore = load();
  const fullSeconds = alexnet(tree, ["train", "--profile", "laptop", "--out", full]);
  const small = path.join(tree, "data", "small");
  alexnet(tree, ["prepare", "--format", "synthetic", "--train-per-class", "20", "--val-per-class", "5", "--size", "146", "--out", small]);
  const smallRun = path.join(tree, "runs", "small");
  const smallSeconds = alexnet(tree, ["train", "--profile", "laptop", "--data", small, "--epochs", "40", "--out", smallRun]);
  const run = JSON.parse(readFileSync(path.join(full, "run.json"), "utf8"));
  const file = writeResult("laptop-before", {
    commit,
    what: "the laptop profile before issue 12: embedded-set design 1 (a class is a shape crossed with one of two patterns, the object anywhere in the frame), 2,600 training images, mini network, lr 0.01, plateau schedule, dropout 0, 20 epochs",
    engine: "wasm (that commit's selection)",
    recipe: run,
    loadAverage: { before: loadBefore, after: load() },
    full: { seconds: fullSeconds, history: metrics(full) },
    memorisation: {
      images: 200,
      epochs: 40,
      note: "train error is the trainer's, on augmented batches; the run's own validation split has 50 images",
      seconds: smallSeconds,
      history: metrics(smallRun),
    },
  });
  console.log(`wrote ${file}`);
} finally {
  if (existsSync(tree)) execFileSync("git", ["worktree", "remove", "--force", tree], { cwd: root, stdio: "ignore" });
  rmSync(tree, { recursive: true, force: true });
}
