// A shard whose bytes were flipped after it was prepared: every reader refuses
// its labels, and verify names it (issue 16: damaged shards were trained on).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { createLoader } from "../../lib/data/loader";
import { openDataset, verifyDataset } from "../../lib/data/shards";
import { tempDir } from "../helpers/notebooks";
import { prepareTinySet } from "../helpers/train";

const root = path.resolve(__dirname, "..", "..");
const tmp = tempDir("alexnet-verify-");
const intact = path.join(tmp.dir, "intact");
const damaged = path.join(tmp.dir, "damaged");
let shardFile = "";
const alexnet = (...args: string[]) => spawnSync(process.execPath, [path.join(root, "bin", "alexnet.js"), ...args], { cwd: root, encoding: "utf8" });

before(async () => {
  await prepareTinySet(intact, { seed: 2, classes: 4, trainPerClass: 3, valPerClass: 1 }, 16);
  cpSync(intact, damaged, { recursive: true });
  const ds = openDataset(damaged);
  shardFile = path.join(damaged, ds.manifest.splits.train!.shards[0].file);
  const rb = ds.recordBytes;
  await ds.close();
  // Record 1's label, int32 little-endian at the start of the record: 0xfa 0xff 0xff 0xff is -6.
  const bytes = readFileSync(shardFile);
  bytes.set([0xfa, 0xff, 0xff, 0xff], rb);
  writeFileSync(shardFile, bytes);
});
after(tmp.cleanup);

test("every reader refuses a label no class has, naming the shard and the repair", async () => {
  const message = new RegExp(`${shardFile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: record 1 has label -6, but the dataset has 4 classes \\(0\\.\\.3\\), so the shard is damaged; .alexnet verify DATA_DIR. lists every damaged shard`);
  const ds = openDataset(damaged);
  try {
    const train = ds.split("train");
    await assert.rejects(train.readRecord(1), (err: Error) => err.name === "DamagedShardError" && message.test(err.message));
    await assert.rejects(train.readBatch([0, 1]), message);
    await assert.rejects(async () => {
      for await (const r of train.records()) void r;
    }, message);
    assert.equal((await train.readRecord(0)).label >= 0, true, "an intact record still reads");
    for (const workers of [0, 1]) {
      const loader = createLoader(ds, { batchSize: 12, crop: 16, workers, augment: "center", shuffle: false });
      try {
        await assert.rejects(async () => {
          for await (const b of loader) b.release();
        }, /record 1 has label -6/, `workers: ${workers}`);
      } finally {
        await loader.close();
      }
    }
  } finally {
    await ds.close();
  }
});

test("verify names the damaged shard and exits 1; an intact set passes; show refuses the bad record", async () => {
  const ok = alexnet("verify", intact);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /all \d+ shards match the manifest's sizes and sha256/);
  const bad = alexnet("verify", damaged);
  assert.equal(bad.status, 1, bad.stderr);
  assert.match(bad.stdout, new RegExp(`1 of \\d+ shards differ from the manifest\\n  ${shardFile.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}\\n  for each damaged shard, delete that shard's \\.bin and \\.json files and manifest\\.json, then run .alexnet prepare. again`));
  await assert.rejects(verifyDataset(damaged), (err: Error) => err.name === "DamagedShardError" && /1 of \d+ shards differ/.test(err.message));
  assert.equal((await verifyDataset(intact)).failures.length, 0);
  const show = alexnet("show", "--data", damaged, "--index", "1", "--out", path.join(tmp.dir, "r.png"));
  assert.equal(show.status, 1);
  assert.match(show.stderr, /record 1 has label -6/);
  assert.equal(alexnet("verify").status, 2, "no folder is bad usage");
});

test("prepare on a full disk names the shard, and says the finished ones are kept (a small tmpfs, where one can be mounted)", async (t) => {
  const mount = path.join(tmp.dir, "small");
  mkdirSync(mount);
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=96k", "tmpfs", mount]);
  if (mounted.status !== 0) {
    t.skip(`cannot mount a tmpfs here (${(mounted.stderr?.toString() || String(mounted.error)).trim()}); test/files.test.ts injects the error instead`);
    return;
  }
  try {
    await assert.rejects(prepareTinySet(path.join(mount, "set"), { seed: 1, classes: 4, trainPerClass: 10, valPerClass: 1 }, 64), (err: Error) => {
      assert.equal(err.name, "WriteError", err.message);
      assert.match(err.message, /cannot write .*small\/set\/.*: the disk is full \(ENOSPC\); /);
      return true;
    });
  } finally {
    spawnSync("umount", [mount]);
  }
});

test("verifyDataset compares the sha256 a caller read back (prepare's) instead of reading those shards again", async () => {
  const ds = openDataset(damaged);
  const shards = ds.manifest.splits.train!.shards;
  await ds.close();
  // The damaged shard's read-back hash says it is intact: verify trusts it and reads only the others.
  const readBack = new Map([[shards[0].file, Promise.resolve(shards[0].sha256)]]);
  assert.equal((await verifyDataset(damaged, undefined, readBack)).failures.length, 0);
  // A read-back hash that differs from the manifest is a damaged shard, as a fresh read would be.
  const wrong = new Map([[shards[0].file, Promise.resolve("0".repeat(64))]]);
  await assert.rejects(verifyDataset(intact, undefined, wrong), (err: Error) => err.name === "DamagedShardError" && /sha256 0{64}, the manifest says/.test(err.message));
});
