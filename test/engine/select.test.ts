import assert from "node:assert/strict";
import { test } from "node:test";
import * as tf from "@tensorflow/tfjs";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { visibleGpus } from "../../lib/engine/gpu";
import { describeMachine, recommendProfile, type Machine } from "../../lib/engine/machine";
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { EngineUnavailableError, formatEngineReport, parseEngineName, selectEngine } from "../../lib/engine/select";

const notFound = (pkg: string) =>
  Object.assign(new Error(`Cannot find module '${pkg}'\nRequire stack:\n- x.js`), { code: "MODULE_NOT_FOUND" });
const realLoad = (pkg: string) => require(pkg) as unknown;

test("without native packages the best engine here is wasm, and the report says why gpu and node were skipped", async () => {
  const load = (pkg: string) => {
    if (pkg.startsWith("@tensorflow/tfjs-node")) throw notFound(pkg);
    return realLoad(pkg);
  };
  const r = await selectEngine({ force: "", load, gpus: () => [] });
  assert.equal(r.engine, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.deepEqual(
    r.skipped.map((s) => s.engine),
    ["gpu", "node"],
  );
  assert.match(r.skipped[0].reason, /no CUDA GPU visible/);
  assert.equal(r.skipped[1].reason, "@tensorflow/tfjs-node is not installed");
  assert.ok(r.details.includes("SIMD on") || r.details.includes("SIMD off"));
  const text = formatEngineReport(r);
  assert.match(text, /^engine: wasm \(best available; TensorFlow\.js 4\.22\.0/);
  assert.match(text, /\n  skipped gpu: no CUDA GPU visible/);
  assert.match(text, /\n  skipped node: @tensorflow\/tfjs-node is not installed/);
});

test("a broken optional package never crashes: its first error line becomes the reason", async () => {
  const load = (pkg: string) => {
    if (pkg === "@tensorflow/tfjs-node-gpu") throw new Error("libcudart.so.11.0: cannot open shared object file\n    at stack");
    if (pkg === "@tensorflow/tfjs-node")
      throw new Error("The Node.js native addon module (tfjs_binding.node) can not be found at path: x\nmore");
    return realLoad(pkg);
  };
  const r = await selectEngine({ force: "", load, gpus: () => ["Tesla T4, 15360 MiB"] });
  assert.equal(r.engine, "wasm");
  assert.equal(r.skipped[0].reason, "@tensorflow/tfjs-node-gpu failed to load: libcudart.so.11.0: cannot open shared object file");
  assert.match(r.skipped[1].reason, /^@tensorflow\/tfjs-node failed to load: The Node\.js native addon module/);
});

test("a visible GPU and a loading tfjs-node-gpu select the gpu engine", async () => {
  const loaded: string[] = [];
  const load = (pkg: string) => {
    loaded.push(pkg);
    // Stand-in for tfjs-node-gpu: it registers the 'tensorflow' backend on import.
    if (pkg === "@tensorflow/tfjs-node-gpu" && !tf.findBackendFactory("tensorflow"))
      tf.registerBackend("tensorflow", () => new MathBackendCPU());
    return {};
  };
  const r = await selectEngine({ force: "", load, gpus: () => ["NVIDIA A100-SXM4-40GB, 40960 MiB"] });
  assert.equal(r.engine, "gpu");
  assert.equal(r.backend, "tensorflow");
  assert.deepEqual(r.details, ["GPU: NVIDIA A100-SXM4-40GB, 40960 MiB"]);
  assert.deepEqual(loaded, ["@tensorflow/tfjs-node-gpu"], "nothing slower is tried once gpu works");
  tf.removeBackend("tensorflow");
});

test("ALEXNET_BACKEND forces an engine, and an unavailable forced engine says how to install it", async () => {
  const saved = process.env.ALEXNET_BACKEND;
  try {
    process.env.ALEXNET_BACKEND = "cpu";
    const r = await selectEngine({ load: realLoad, gpus: () => [] });
    assert.equal(r.engine, "cpu");
    assert.equal(r.forcedBy, "ALEXNET_BACKEND");
    assert.equal(tf.getBackend(), "cpu");
    assert.match(formatEngineReport(r), /forced by ALEXNET_BACKEND=cpu/);

    process.env.ALEXNET_BACKEND = "node";
    await assert.rejects(
      selectEngine({
        load: (p) => {
          throw notFound(p);
        },
        gpus: () => [],
      }),
      (e: Error) =>
        e instanceof EngineUnavailableError && /ALEXNET_BACKEND=node .*not installed.*npm install @tensorflow\/tfjs-node/.test(e.message),
    );
    process.env.ALEXNET_BACKEND = "tpu";
    await assert.rejects(
      selectEngine({ load: realLoad, gpus: () => [] }),
      /ALEXNET_BACKEND=tpu is not an engine; use one of gpu, node, wasm, cpu/,
    );
  } finally {
    if (saved === undefined) delete process.env.ALEXNET_BACKEND;
    else process.env.ALEXNET_BACKEND = saved;
  }
});

test("parseEngineName accepts any case and rejects others", () => {
  assert.equal(parseEngineName(" WASM "), "wasm");
  assert.throws(() => parseEngineName("metal"), /use one of/);
});

test("visibleGpus reads nvidia-smi, honours CUDA_VISIBLE_DEVICES, falls back to /proc", () => {
  const smi = () => "Tesla T4, 15360 MiB\nTesla V100, 16384 MiB\n";
  assert.deepEqual(visibleGpus({ env: {}, nvidiaSmi: smi }), ["Tesla T4, 15360 MiB", "Tesla V100, 16384 MiB"]);
  assert.deepEqual(visibleGpus({ env: { CUDA_VISIBLE_DEVICES: "1" }, nvidiaSmi: smi }), ["Tesla V100, 16384 MiB"]);
  assert.deepEqual(visibleGpus({ env: { CUDA_VISIBLE_DEVICES: "" }, nvidiaSmi: smi }), []);
  assert.deepEqual(visibleGpus({ env: { CUDA_VISIBLE_DEVICES: "-1" }, nvidiaSmi: smi }), []);
  const missing = () => {
    throw new Error("spawn nvidia-smi ENOENT");
  };
  assert.deepEqual(visibleGpus({ env: {}, nvidiaSmi: missing, procGpus: () => ["0000:01:00.0"] }), ["NVIDIA GPU at 0000:01:00.0"]);
  assert.deepEqual(visibleGpus({ env: {}, nvidiaSmi: missing, procGpus: () => [] }), []);
});

test("recommendProfile: smoke on CI, paper with a GPU engine, laptop otherwise", () => {
  const machine: Machine = { platform: "linux x64", node: "v20", cpuModel: "cpu", threads: 2, memoryGiB: 24, freeMemoryGiB: 20, gpus: [] };
  const report = { engine: "wasm" as const, backend: "wasm", skipped: [], tfjsVersion: "4.22.0", details: [] };
  assert.equal(recommendProfile(machine, report, { CI: "true" }).profile, "smoke");
  assert.equal(recommendProfile(machine, report, {}).profile, "laptop");
  assert.equal(recommendProfile({ ...machine, gpus: ["T4"] }, { ...report, engine: "gpu", backend: "tensorflow" }, {}).profile, "paper");
  assert.equal(recommendProfile({ ...machine, memoryGiB: 2 }, report, {}).profile, "smoke");
});

test("describeMachine reports this machine's threads, memory and platform", () => {
  const m = describeMachine();
  assert.equal(m.threads, os.availableParallelism());
  assert.ok(m.memoryGiB > 0 && m.freeMemoryGiB <= m.memoryGiB);
  assert.equal(m.platform, `${os.platform()} ${os.arch()}`);
  assert.equal(m.node, process.version);
  assert.ok(Array.isArray(m.gpus));
});

test("`alexnet engine --json` prints the report the notebooks get", () => {
  const r = spawnSync(process.execPath, [path.join(__dirname, "..", "..", "bin", "alexnet.js"), "engine", "--json"], {
    encoding: "utf8",
    env: { ...process.env, ALEXNET_BACKEND: "cpu" },
  });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.engine, "cpu");
  assert.equal(report.forcedBy, "ALEXNET_BACKEND");
});
