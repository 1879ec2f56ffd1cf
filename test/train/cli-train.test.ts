// `alexnet train` as a user meets it: the JSON line, the run folder, Ctrl-C and --resume.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { buildAlexNet } from "../../lib/model/alexnet";
import { writeCard } from "../../lib/model/card";
import { saveModel } from "../../lib/model/io";
import { UsageError } from "../../lib/cli/args";
import { run } from "../../lib/cli/train";
import { tempDir } from "../helpers/notebooks";
import { prepareTinySet } from "../helpers/train";

const root = path.resolve(__dirname, "..", "..");
const tmp = tempDir("alexnet-cli-train-");
const bin = path.join(root, "bin", "alexnet.js");
const alexnet = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: "utf8" });
let data = "";
let initDir = "";

before(async () => {
  // The smoke profile's 73x73 records (64x64 crops), 10 classes x 4 training images.
  data = path.join(tmp.dir, "data");
  const set = { seed: 2, classes: 10, trainPerClass: 4, valPerClass: 2 };
  await prepareTinySet(data, set);
  // A small saved model with a card, standing in for imported weights (5 classes: fc8 is replaced).
  initDir = path.join(tmp.dir, "init");
  const modelOptions = { inputSize: 64, widthMultiplier: 0.125, fcUnits: 32, numClasses: 5, init: "he" as const, seed: 4 };
  const model = buildAlexNet("mini", modelOptions);
  await saveModel(model, initDir);
  model.dispose();
  writeCard(initDir, {
    variant: "mini",
    modelOptions,
    classes: ["a", "b", "c", "d", "e"],
    input: { mean: [120, 115, 100], scale: [1 / 60, 1 / 62, 1 / 64] },
    source: "cli test model",
  });
});
after(() => tmp.cleanup());

const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);

test("train --profile smoke writes metrics, checkpoints and a JSON summary; --resume carries on to more epochs", () => {
  const out = path.join(tmp.dir, "run");
  const r = alexnet(
    "train",
    "--profile",
    "smoke",
    "--data",
    data,
    "--out",
    out,
    "--epochs",
    "1",
    "--batch",
    "8",
    "--dropout",
    "0.5",
    "--json",
  );
  assert.equal(r.status, 0, r.stderr);
  const s = lastJson(r.stdout);
  assert.equal(s.status, "completed");
  assert.equal(s.epochs, 1);
  for (const k of ["trainTop1Error", "valTop1Error", "valTop5Error", "imagesPerSecond"]) assert.ok(Number.isFinite(s[k]), k);
  // Training time is the epoch's own (metrics.jsonl), not the whole command's.
  const epochSeconds = JSON.parse(readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim()).seconds;
  assert.ok(
    Math.abs(s.trainingSeconds - epochSeconds) < 1e-9 && s.trainingSeconds > 0 && s.trainingSeconds < s.seconds,
    `${s.trainingSeconds} vs ${epochSeconds}, ${s.seconds}`,
  );
  assert.match(r.stdout, /finished: 1\/1 epochs of mini/);
  assert.match(r.stderr, /epoch 1\/1: train loss/);
  assert.deepEqual(
    readdirSync(path.join(out, "checkpoints")).filter((f) => f.startsWith("epoch-")),
    ["epoch-0001"],
  );
  assert.equal(readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").length, 1);
  assert.ok(existsSync(path.join(out, "run.json")));
  assert.equal(JSON.parse(readFileSync(path.join(out, "run.json"), "utf8")).modelOptions.dropout, 0.5, "--dropout reaches the network");

  const again = alexnet("train", "--data", data, "--out", out, "--json");
  assert.equal(again.status, 2, "a finished run without --resume is a refusal");
  assert.match(again.stderr, /already holds checkpoints.*--resume/);

  const resumed = alexnet("train", "--out", out, "--resume", "--epochs", "2", "--json");
  assert.equal(resumed.status, 0, resumed.stderr);
  const t = lastJson(resumed.stdout);
  assert.equal(t.epochs, 2);
  assert.ok(t.trainingSeconds > s.trainingSeconds, "with --resume, training time adds up both epochs");
  assert.equal(t.resumedFrom, path.join(out, "checkpoints", "epoch-0001"));
  assert.equal(readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").length, 2);
});

test("Ctrl-C stops after the current step with a checkpoint, exit code 130, and --resume finishes the run", async () => {
  const out = path.join(tmp.dir, "interrupted");
  const child = spawn(
    process.execPath,
    [bin, "train", "--profile", "smoke", "--data", data, "--out", out, "--epochs", "3", "--batch", "4", "--workers", "0"],
    { cwd: root },
  );
  let stderr = "";
  let sent = false;
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    if (!sent && /train \[#/.test(stderr)) {
      sent = true;
      child.kill("SIGINT");
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /stopping after this step/);
  assert.match(stderr, /continue with --resume/);
  const resumed = alexnet("train", "--out", out, "--resume", "--json");
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /resuming from /);
  const s = lastJson(resumed.stdout);
  assert.equal(s.status, "completed");
  assert.equal(s.epochs, 3);
  assert.equal(readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").length, 3);
});

test("train --init MODEL_DIR --freeze features fine-tunes, records both in run.json, and --resume keeps them", () => {
  const out = path.join(tmp.dir, "finetune");
  const r = alexnet(
    "train",
    "--init",
    initDir,
    "--freeze",
    "features",
    "--data",
    data,
    "--out",
    out,
    "--epochs",
    "1",
    "--batch",
    "8",
    "--workers",
    "0",
    "--json",
  );
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /from cli test model \(new fc8: 5 -> 10 classes\), conv1 conv2 conv3 conv4 conv5 frozen/);
  const config = JSON.parse(readFileSync(path.join(out, "run.json"), "utf8"));
  assert.equal(config.init, initDir);
  assert.equal(config.freeze, "features");
  assert.equal(config.crop, 64);
  assert.deepEqual(config.input.mean, [120, 115, 100]);
  const resumed = alexnet("train", "--out", out, "--resume", "--epochs", "2", "--workers", "0", "--json");
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /conv1 conv2 conv3 conv4 conv5 frozen/);
  assert.equal(lastJson(resumed.stdout).epochs, 2);
});

test("wrong flags and paths get one-line errors naming them", () => {
  const cases: [string[], RegExp, number][] = [
    [["train", "--data", data], /--out RUN is required/, 2],
    [["train", "--out", "x", "--profile", "huge"], /--profile huge: use one of smoke, laptop, paper/, 2],
    [["train", "--out", "x", "--model", "vgg"], /--model vgg: use one of paper, paper-1tower, torchvision, mini/, 2],
    [["train", "--out", "x", "--batch", "0"], /--batch 0: expected a whole number of at least 1/, 2],
    [["train", "--out", "x", "--lr", "0"], /--lr 0: the learning rate must be greater than 0/, 2],
    [["train", "--out", "x", "--frobnicate"], /Unknown option '--frobnicate'/, 2],
    [["train", "--out", path.join(tmp.dir, "r2"), "--data", path.join(tmp.dir, "nowhere")], /no prepared dataset at .*nowhere/, 1],
  ];
  for (const [args, message, status] of cases) {
    const r = alexnet(...args);
    assert.equal(r.status, status, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
  }
});

test("bad fine-tuning flags and an --init folder without a model get errors naming them", async () => {
  // In-process: a usage error is thrown before the engine or the dataset is touched (a spawn costs seconds).
  const cases: [string[], RegExp][] = [
    [["--out", "x", "--freeze", "all"], /--freeze all: use one of features, none/],
    [["--out", "x", "--dropout", "1"], /--dropout 1: a rate in \[0, 1\)/],
    [["--out", "x", "--features-lr", "0"], /--features-lr 0: use --freeze features/],
    [["--out", "x", "--features-lr", "fast"], /--features-lr fast: expected a number of at least 0/],
    [["--out", "x", "--freeze", "features", "--features-lr", "0.1"], /--freeze features with --features-lr/],
  ];
  for (const [args, message] of cases) {
    await assert.rejects(run(args), (err: Error) => err instanceof UsageError && message.test(err.message), args.join(" "));
  }
  // An init folder that holds no model is named in the error (exit code 1 in the shell).
  await assert.rejects(
    run(["--out", path.join(tmp.dir, "r3"), "--init", data, "--data", data]),
    (err: Error) => !(err instanceof UsageError) && err.message.includes(`${data} is neither a model folder nor a training run`),
  );
});
