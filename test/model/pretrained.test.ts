import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, test } from "node:test";
import { isTorchvisionRelease, PRETRAINED_ENV, pretrainedCheckpoint, TORCHVISION_ALEXNET } from "../../lib/model/pretrained";
import { tempDir } from "../helpers/notebooks";

const tmp = tempDir("alexnet-pretrained-");
after(() => tmp.cleanup());

test("pretrainedCheckpoint: the environment variable, then data/pretrained, then the fixture", () => {
  const root = path.join(tmp.dir, "root");
  mkdirSync(path.join(root, "data", "pretrained"), { recursive: true });
  const none = pretrainedCheckpoint({}, root);
  assert.equal(none.fixture, true);
  assert.equal(none.file, path.join(root, "test", "fixtures", "torch", "alexnet-tiny.pth"));
  assert.match(
    none.howToGet,
    /curl -L -o data\/pretrained\/alexnet-owt-7be5be79\.pth https:\/\/download\.pytorch\.org\/models\/alexnet-owt-7be5be79\.pth/,
  );

  const real = path.join(root, "data", "pretrained", TORCHVISION_ALEXNET.file);
  writeFileSync(real, "x");
  assert.deepEqual({ ...pretrainedCheckpoint({}, root), howToGet: "" }, { file: real, fixture: false, howToGet: "" });

  const elsewhere = path.join(tmp.dir, "mine.safetensors");
  writeFileSync(elsewhere, "x");
  assert.equal(pretrainedCheckpoint({ [PRETRAINED_ENV]: elsewhere }, root).file, elsewhere);
  assert.throws(
    () => pretrainedCheckpoint({ [PRETRAINED_ENV]: path.join(tmp.dir, "nope.pth") }, root),
    /ALEXNET_TORCHVISION_WEIGHTS=.*nope\.pth: no such file/,
  );
});

test("the shipped fixture is found in this checkout, and release hashes are recognised by their prefix", () => {
  const choice = pretrainedCheckpoint({});
  if (choice.fixture) assert.ok(choice.file.endsWith(path.join("test", "fixtures", "torch", "alexnet-tiny.pth")));
  assert.equal(isTorchvisionRelease("7be5be79" + "0".repeat(56)), true);
  assert.equal(isTorchvisionRelease("4df8aa71" + "0".repeat(56)), false);
});
