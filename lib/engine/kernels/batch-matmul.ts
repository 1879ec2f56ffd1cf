// wasm runs a matmul on XNNPACK only when neither operand is transposed; with a
// transpose it falls back to a scalar triple loop (about 13x slower here). The
// dense layers' gradients are exactly such matmuls, so they are rewritten as
// untransposed ones. XNNPACK also repacks its right operand on every call (the
// weights change every step), so the rewrite picks whichever of
//   C = op(A) op(B)     or     C = (op(B)^T op(A)^T)^T
// moves the fewest floats: transposes of stored operands, the packed right
// operand, and (second form) the transpose of the result.
import * as tf from "@tensorflow/tfjs";
import { callStock, release, type TensorInfo } from "./call";

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

function swapLastTwo(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
  return perm;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export type MatMulPlan = "direct" | "swapped";

/** Which form moves fewer floats, for 2-D operands of the given stored shapes (exported for tests). */
export function planMatMul(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): MatMulPlan {
  const ra = aShape.length;
  const rb = bShape.length;
  const m = transposeA ? aShape[ra - 1] : aShape[ra - 2];
  const k = transposeA ? aShape[ra - 2] : aShape[ra - 1];
  const n = transposeB ? bShape[rb - 2] : bShape[rb - 1];
  const direct = (transposeA ? size(aShape) : 0) + (transposeB ? size(bShape) : 0) + k * n;
  const swapped = (transposeB ? 0 : size(bShape)) + (transposeA ? 0 : size(aShape)) + k * m + m * n;
  return swapped < direct ? "swapped" : "direct";
}

export function batchMatMulKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const be = backend as tf.KernelBackend;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as MatMulAttrs;
    const temps: TensorInfo[] = [];
    const transposed = (t: TensorInfo): TensorInfo => {
      const r = callStock(be, backendName, tf.Transpose, { x: t }, { perm: swapLastTwo(t.shape.length) });
      temps.push(r);
      return r;
    };
    const matmul = (l: TensorInfo, r: TensorInfo) =>
      callStock(be, backendName, tf.BatchMatMul, { a: l, b: r }, { transposeA: false, transposeB: false });
    try {
      if (!transposeA && !transposeB) return matmul(a, b);
      if (planMatMul(a.shape, b.shape, transposeA, transposeB) === "direct") {
        return matmul(transposeA ? transposed(a) : a, transposeB ? transposed(b) : b);
      }
      // op(B)^T is B as stored when transposeB; op(A)^T is A as stored when transposeA.
      const ct = matmul(transposeB ? b : transposed(b), transposeA ? a : transposed(a));
      temps.push(ct);
      return callStock(be, backendName, tf.Transpose, { x: ct }, { perm: swapLastTwo(ct.shape.length) });
    } finally {
      release(be, ...temps);
    }
  };
}
