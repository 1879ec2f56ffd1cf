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

test("without native packages the best engine here is wasm, and the report says why cuda, webgpu and node were skipped", async () => {
  const load = (pkg: string) => {
    if (pkg.startsWith("@tensorflow/tfjs-node") || pkg === "webgpu") throw notFound(pkg);
    return realLoad(pkg);
  };
  const r = await selectEngine({ force: "", load, gpus: () => [] });
  assert.equal(r.engine, "wasm");
  assert.equal(tf.getBackend(), "wasm");
  assert.deepEqual(
    r.skipped.map((s) => s.engine),
    ["cuda", "webgpu", "node"],
  );
  assert.match(r.skipped[0].reason, /no CUDA GPU visible/);
  assert.equal(r.skipped[1].reason, "webgpu is not installed");
  assert.equal(r.skipped[2].reason, "@tensorflow/tfjs-node is not installed");
  assert.ok(r.details.includes("SIMD on") || r.details.includes("SIMD off"));
  const text = formatEngineReport(r);
  assert.match(text, /^engine: wasm \(best available; TensorFlow\.js 4\.22\.0/);
  assert.match(text, /\n  skipped cuda: no CUDA GPU visible/);
  assert.match(text, /\n  skipped webgpu: webgpu is not installed/);
  assert.match(text, /\n  skipped node: @tensorflow\/tfjs-node is not installed/);
});

test("a broken optional package never crashes: its first error line becomes the reason", async () => {
  const load = (pkg: string) => {
    if (pkg === "@tensorflow/tfjs-node-gpu") throw new Error("libcudart.so.11.0: cannot open shared object file\n    at stack");
    if (pkg === "@tensorflow/tfjs-node")
      throw new Error("The Node.js native addon module (tfjs_binding.node) can not be found at path: x\nmore");
    if (pkg === "webgpu") throw new Error("libvulkan.so.1: cannot open shared object file\n    at stack");
    return realLoad(pkg);
  };
  const r = await selectEngine({ force: "", load, gpus: () => ["Tesla T4, 15360 MiB"] });
  assert.equal(r.engine, "wasm");
  assert.equal(r.skipped[0].reason, "@tensorflow/tfjs-node-gpu failed to load: libcudart.so.11.0: cannot open shared object file");
  assert.equal(r.skipped[1].reason, "webgpu failed to load: libvulkan.so.1: cannot open shared object file");
  assert.match(r.skipped[2].reason, /^@tensorflow\/tfjs-node failed to load: The Node\.js native addon module/);
});

test("a visible GPU and a loading tfjs-node-gpu select the cuda engine", async () => {
  const loaded: string[] = [];
  const load = (pkg: string) => {
    loaded.push(pkg);
    // Stand-in for tfjs-node-gpu: it registers the 'tensorflow' backend on import.
    if (pkg === "@tensorflow/tfjs-node-gpu" && !tf.findBackendFactory("tensorflow"))
      tf.registerBackend("tensorflow", () => new MathBackendCPU());
    return {};
  };
  const r = await selectEngine({ force: "", load, gpus: () => ["NVIDIA A100-SXM4-40GB, 40960 MiB"] });
  assert.equal(r.engine, "cuda");
  assert.equal(r.backend, "tensorflow");
  assert.deepEqual(r.details, ["GPU: NVIDIA A100-SXM4-40GB, 40960 MiB"]);
  assert.deepEqual(loaded, ["@tensorflow/tfjs-node-gpu"], "nothing slower is tried once cuda works");
  tf.removeBackend("tensorflow");
});

type FakeInfo = { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
const HARDWARE: FakeInfo = { vendor: "nvidia", architecture: "ampere", device: "", description: "NVIDIA GeForce RTX 3060" };
const LLVMPIPE: FakeInfo = {
  vendor: "mesa",
  architecture: "software",
  device: "llvmpipe-llvm-15-0-6-256-bits-",
  description: "llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1",
  isFallbackAdapter: true,
};

/** A load() with Dawn's binding offering `info` (null: no adapter) and a stand-in tfjs-backend-webgpu. */
function webgpuLoad(info: FakeInfo | null, loaded: string[] = []) {
  return (pkg: string): unknown => {
    loaded.push(pkg);
    if (pkg.startsWith("@tensorflow/tfjs-node")) throw notFound(pkg);
    if (pkg === "webgpu") return { create: () => ({ requestAdapter: async () => (info ? { info } : null) }), globals: {} };
    if (pkg === "@tensorflow/tfjs-backend-webgpu") {
      // Stand-in: the real package registers 'webgpu' on import when navigator.gpu exists.
      assert.ok((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu, "navigator.gpu is provided before the backend loads");
      if (!tf.findBackendFactory("webgpu")) tf.registerBackend("webgpu", () => new MathBackendCPU());
      return {};
    }
    return realLoad(pkg);
  };
}

test("webgpu on a hardware adapter comes after cuda and before node; the report names the adapter", async () => {
  const loaded: string[] = [];
  try {
    const r = await selectEngine({ force: "", load: webgpuLoad(HARDWARE, loaded), gpus: () => [] });
    assert.equal(r.engine, "webgpu");
    assert.equal(r.backend, "webgpu");
    assert.deepEqual(
      r.skipped.map((s) => s.engine),
      ["cuda"],
    );
    assert.deepEqual(r.details.slice(0, 3), ["adapter vendor: nvidia", "architecture: ampere", "description: NVIDIA GeForce RTX 3060"]);
    // The stand-in backend has no kernels, so the report lists the training kernels it lacks.
    assert.match(r.details[3], /^lacks training kernels: Conv2DBackpropFilter, .*LRN, LRNGrad$/);
    assert.deepEqual(
      loaded,
      ["webgpu", "@tensorflow/tfjs-backend-webgpu"],
      "neither tfjs-node-gpu (no GPU visible) nor anything slower is tried",
    );
    assert.match(
      formatEngineReport(r),
      /^engine: webgpu \(best available; .*adapter vendor: nvidia, architecture: ampere, description: NVIDIA GeForce RTX 3060/,
    );
  } finally {
    tf.removeBackend("webgpu");
  }
});

test("a software adapter (llvmpipe, SwiftShader, a fallback adapter) is skipped with the reason, never chosen unasked", async () => {
  for (const info of [
    LLVMPIPE,
    { vendor: "google", architecture: "", device: "", description: "SwiftShader Device (Subzero)" },
    { ...HARDWARE, isFallbackAdapter: true },
  ]) {
    const loaded: string[] = [];
    const r = await selectEngine({ force: "", load: webgpuLoad(info, loaded), gpus: () => [] });
    assert.equal(r.engine, "wasm");
    assert.equal(r.skipped[1].engine, "webgpu");
    assert.match(r.skipped[1].reason, /^only a software adapter \(.+; .+\), slower than wasm; ALEXNET_BACKEND=webgpu forces it$/);
    assert.ok(!loaded.includes("@tensorflow/tfjs-backend-webgpu"), "the backend is not even loaded");
  }
  const r = await selectEngine({ force: "", load: webgpuLoad(LLVMPIPE), gpus: () => [] });
  assert.match(r.skipped[1].reason, /llvmpipe: Mesa 25/);
  const none = await selectEngine({ force: "", load: webgpuLoad(null), gpus: () => [] });
  assert.match(none.skipped[1].reason, /^no WebGPU adapter/);
});

test("ALEXNET_BACKEND=webgpu forces even a software adapter; without an adapter it fails loudly", async () => {
  const saved = process.env.ALEXNET_BACKEND;
  try {
    process.env.ALEXNET_BACKEND = "webgpu";
    const r = await selectEngine({ load: webgpuLoad(LLVMPIPE), gpus: () => [] });
    assert.equal(r.engine, "webgpu");
    assert.equal(r.forcedBy, "ALEXNET_BACKEND");
    assert.ok(r.details.includes("description: llvmpipe: Mesa 25.0.7-2~bpo12+1 (LLVM 15.0.6) 0.0.1"));
    assert.ok(r.details.includes("software rendering"));
    assert.match(formatEngineReport(r), /forced by ALEXNET_BACKEND=webgpu/);
    tf.removeBackend("webgpu");
    await assert.rejects(
      selectEngine({ load: webgpuLoad(null), gpus: () => [] }),
      (e: Error) => e instanceof EngineUnavailableError && e.engine === "webgpu" && /no WebGPU adapter/.test(e.message),
    );
  } finally {
    if (saved === undefined) delete process.env.ALEXNET_BACKEND;
    else process.env.ALEXNET_BACKEND = saved;
    if (tf.findBackendFactory("webgpu")) tf.removeBackend("webgpu");
  }
});

test("ALEXNET_BACKEND=gpu still means the CUDA engine", async () => {
  const saved = process.env.ALEXNET_BACKEND;
  try {
    process.env.ALEXNET_BACKEND = "gpu";
    await assert.rejects(
      selectEngine({ load: realLoad, gpus: () => [] }),
      (e: Error) =>
        e instanceof EngineUnavailableError &&
        e.engine === "cuda" &&
        /^ALEXNET_BACKEND=gpu \(the cuda engine\) was requested .*no CUDA GPU visible/.test(e.message),
    );
    const load = (pkg: string) => {
      if (pkg === "@tensorflow/tfjs-node-gpu" && !tf.findBackendFactory("tensorflow"))
        tf.registerBackend("tensorflow", () => new MathBackendCPU());
      return {};
    };
    const r = await selectEngine({ load, gpus: () => ["Tesla T4, 15360 MiB"] });
    assert.equal(r.engine, "cuda");
    assert.equal(r.forcedBy, "ALEXNET_BACKEND");
  } finally {
    if (saved === undefined) delete process.env.ALEXNET_BACKEND;
    else process.env.ALEXNET_BACKEND = saved;
    if (tf.findBackendFactory("tensorflow")) tf.removeBackend("tensorflow");
  }
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
      /ALEXNET_BACKEND=tpu is not an engine; use one of cuda, webgpu, node, wasm, cpu \(gpu = cuda\)/,
    );
  } finally {
    if (saved === undefined) delete process.env.ALEXNET_BACKEND;
    else process.env.ALEXNET_BACKEND = saved;
  }
});

test("parseEngineName accepts any case and rejects others", () => {
  assert.equal(parseEngineName(" WASM "), "wasm");
  assert.equal(parseEngineName("gpu"), "cuda", "the CUDA engine's old name still works");
  assert.equal(parseEngineName("WebGPU"), "webgpu");
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
  assert.equal(recommendProfile({ ...machine, gpus: ["T4"] }, { ...report, engine: "cuda", backend: "tensorflow" }, {}).profile, "paper");
  assert.equal(recommendProfile({ ...machine, memoryGiB: 2 }, report, {}).profile, "smoke");
  const gpu = { ...report, engine: "webgpu" as const, backend: "webgpu" };
  const hardware = ["adapter vendor: amd", "architecture: rdna-3", "description: AMD Radeon RX 7900 (RADV NAVI31)"];
  const advice = recommendProfile(machine, { ...gpu, details: hardware }, {});
  assert.equal(advice.profile, "paper");
  assert.match(advice.why, /AMD Radeon RX 7900/);
  // lavapipe, forced: slower than wasm, no reason for the paper profile.
  const software = ["adapter vendor: mesa", "architecture: software", "description: llvmpipe", "software rendering"];
  assert.equal(recommendProfile(machine, { ...gpu, details: software }, {}).profile, "laptop");
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

test("selectEngine reuses its report only while that backend is active: after a manual tf.setBackend it selects again", async () => {
  const saved = process.env.ALEXNET_BACKEND;
  try {
    process.env.ALEXNET_BACKEND = "wasm";
    const first = await selectEngine();
    assert.equal(first.engine, "wasm");
    assert.equal(await selectEngine(), first, "the same report while wasm is active");
    await tf.setBackend("cpu");
    const again = await selectEngine();
    assert.equal(again.engine, "wasm");
    assert.equal(tf.getBackend(), "wasm", "the forced engine is active again, as its report says");
    assert.notEqual(again, first);
  } finally {
    if (saved === undefined) delete process.env.ALEXNET_BACKEND;
    else process.env.ALEXNET_BACKEND = saved;
  }
});
