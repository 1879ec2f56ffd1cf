// Wall time per kernel on a synchronous backend (wasm, cpu): every kernel
// registered for the backend is wrapped with a timer, and so are the stock
// kernels the course's composite kernels call (lib/engine/kernels/call.ts), so
// a composite's time splits into its own work and the kernels inside it.
// tf.profile() reports one flat list and no nesting; this says which part of
// Conv2DBackpropFilter is the transpose and which the convolution.
// On wasm every kernel finishes before it returns, so wall time is its cost.
import * as tf from "@tensorflow/tfjs";

export interface KernelTime {
  /** "Outer>Inner" for a kernel called inside another kernel, else the kernel's name. */
  key: string;
  calls: number;
  /** Time from entry to return, including nested kernels. */
  totalMs: number;
  /** totalMs minus the time of the kernels it called. */
  selfMs: number;
}

export interface KernelTimer {
  /** Per kernel (and per outer>inner pair), largest self time first. */
  times(): KernelTime[];
  /** Sum of the outermost kernels' time: what the step spent inside kernels. */
  kernelMs(): number;
  reset(): void;
  /** Puts the original kernel functions back. */
  stop(): void;
}

const STOCK = Symbol.for("alexnet.stockKernels");
const OURS = Symbol.for("alexnet.trainingKernel");

/** `byShape`: kernels whose key also names their inputs' shapes (e.g. Conv2D, to tell the five layers apart). */
export function startKernelTimer(backendName: string, byShape: string[] = [], now: () => number = () => performance.now()): KernelTimer {
  const table = new Map<string, KernelTime>();
  const stack: { name: string; childMs: number }[] = [];
  let outerMs = 0;

  const wrap = (kernelName: string, fn: tf.KernelFunc): tf.KernelFunc => {
    const timed: tf.KernelFunc = (args) => {
      const shapes = byShape.includes(kernelName.replace("(stock)", "")) ? shapeKey(args.inputs) : "";
      const key = (stack.length > 0 ? `${stack[0].name}>${kernelName}` : kernelName) + shapes;
      stack.push({ name: kernelName, childMs: 0 });
      const t0 = now();
      try {
        return fn(args);
      } finally {
        const ms = now() - t0;
        const frame = stack.pop()!;
        const e = table.get(key) ?? { key, calls: 0, totalMs: 0, selfMs: 0 };
        e.calls += 1;
        e.totalMs += ms;
        e.selfMs += ms - frame.childMs;
        table.set(key, e);
        if (stack.length > 0) stack[stack.length - 1].childMs += ms;
        else outerMs += ms;
      }
    };
    // Keep the mark that tells registerTrainingKernels a kernel is already the course's.
    const marked = (fn as unknown as Record<symbol, unknown>)[OURS];
    if (marked) (timed as unknown as Record<symbol, unknown>)[OURS] = marked;
    return timed;
  };

  const originals = tf.getKernelsForBackend(backendName).map((k) => ({ ...k }));
  for (const k of originals) {
    tf.unregisterKernel(k.kernelName, backendName);
    tf.registerKernel({ ...k, kernelFunc: wrap(k.kernelName, k.kernelFunc) });
  }
  const stock = (globalThis as Record<symbol, unknown>)[STOCK] as Map<string, tf.KernelFunc> | undefined;
  const stockOriginals = new Map<string, tf.KernelFunc>();
  for (const [id, fn] of stock ?? []) {
    const [be, name] = id.split("/");
    if (be !== backendName) continue;
    stockOriginals.set(id, fn);
    stock!.set(id, wrap(`${name}(stock)`, fn));
  }

  return {
    times: () => [...table.values()].sort((a, b) => b.selfMs - a.selfMs),
    kernelMs: () => outerMs,
    reset: () => {
      table.clear();
      outerMs = 0;
    },
    stop: () => {
      for (const k of originals) {
        tf.unregisterKernel(k.kernelName, backendName);
        tf.registerKernel(k);
      }
      for (const [id, fn] of stockOriginals) stock!.set(id, fn);
    },
  };
}

function shapeKey(inputs: tf.NamedTensorInfoMap): string {
  return ` ${Object.values(inputs)
    .map((t) => `[${t?.shape.join(",")}]`)
    .join(" ")}`;
}
