// WebGPU in Node: Dawn's binding (the optional npm package `webgpu`) provides the
// navigator.gpu that @tensorflow/tfjs-backend-webgpu looks for when it loads.
// Without a GPU, Dawn may still offer a software adapter (Mesa's lavapipe,
// "llvmpipe"; SwiftShader): correct, but slower than wasm, so never chosen unasked.
// Not named webgpu.ts: in a notebook, tslab resolves select.ts's require("webgpu")
// to a sibling file of that name instead of the package.

/** What tfjs and this module read of a GPUAdapterInfo (Dawn's has more). */
export interface AdapterInfo {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/** The part of a GPUAdapter used here. */
export interface AdapterLike {
  info?: AdapterInfo;
  /** Older spelling of info.isFallbackAdapter. */
  isFallbackAdapter?: boolean;
}

/** The part of navigator.gpu used here. */
export interface GpuLike {
  requestAdapter(options?: { powerPreference?: "low-power" | "high-performance" }): Promise<AdapterLike | null>;
}

/** The exports of the `webgpu` package. */
export interface DawnModule {
  create(options: string[]): GpuLike;
  globals?: Record<string, unknown>;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|software|basic render/i;

/** Why an adapter counts as software rendering, or undefined for a hardware one. */
export function softwareAdapterReason(adapter: AdapterLike): string | undefined {
  const info = adapter.info ?? {};
  if (info.isFallbackAdapter === true || adapter.isFallbackAdapter === true) return "it is a fallback (software) adapter";
  for (const field of ["architecture", "description", "vendor", "device"] as const) {
    const value = info[field];
    if (value && SOFTWARE.test(value)) return `its ${field} is '${value}'`;
  }
  return undefined;
}

/** A one-line name for an adapter: its description, else vendor and device. */
export function adapterName(adapter: AdapterLike): string {
  const info = adapter.info ?? {};
  return info.description || [info.vendor, info.device].filter((s) => s).join(" ") || "unnamed adapter";
}

/** Vendor, architecture and description for the engine report. */
export function adapterDetails(adapter: AdapterLike): string[] {
  const info = adapter.info ?? {};
  return [
    `adapter vendor: ${info.vendor || "unknown"}`,
    `architecture: ${info.architecture || "unknown"}`,
    `description: ${info.description || info.device || "none"}`,
  ];
}

const created = new WeakMap<object, GpuLike>();

/**
 * Installs Dawn's WebGPU globals (GPUBufferUsage and friends, which tfjs reads)
 * and navigator.gpu, once per loaded module. Returns the GPU object.
 */
export function provideNavigatorGpu(dawn: DawnModule): GpuLike {
  let gpu = created.get(dawn);
  if (!gpu) {
    gpu = dawn.create([]);
    created.set(dawn, gpu);
  }
  const g = globalThis as Record<string, unknown>;
  for (const [name, value] of Object.entries(dawn.globals ?? {})) if (g[name] === undefined) g[name] = value;
  // Node 21+ defines a navigator without gpu; Node 20 has none.
  if (g.navigator === undefined) g.navigator = {};
  Object.defineProperty(g.navigator as object, "gpu", { value: gpu, configurable: true, writable: true, enumerable: true });
  return gpu;
}
