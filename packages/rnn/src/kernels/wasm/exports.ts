// The raw exports of the kernel module. Pointers are byte addresses in the shared memory,
// sizes are element counts, flags are 0/1.

import { type WasmMemory, type WasmModule, wasmApi } from './wasm-api.ts';

export interface KernelExports {
  gemm_nt(out: number, a: number, b: number, M: number, N: number, K: number, accumulate: number): void;
  gemm_nn(out: number, a: number, b: number, M: number, N: number, K: number, accumulate: number): void;
  gemm_tn(out: number, a: number, b: number, M: number, N: number, K: number, accumulate: number): void;
  /** The same products with explicit leading dimensions in bytes (sub-blocks of larger matrices). */
  gemm_nt_ld(out: number, a: number, b: number, M: number, N: number, K: number, lda: number, ldb: number, ldo: number, accumulate: number): void;
  gemm_nn_ld(out: number, a: number, b: number, M: number, N: number, K: number, lda: number, ldb: number, ldo: number, accumulate: number): void;
  gemm_tn_ld(out: number, a: number, b: number, M: number, N: number, K: number, lda: number, ldb: number, ldo: number, accumulate: number): void;
  act_tanh(out: number, pre: number, n: number): void;
  act_relu(out: number, pre: number, n: number): void;
  act_tanh_backward(dpre: number, dh: number, h: number, n: number): void;
  act_relu_backward(dpre: number, dh: number, h: number, n: number): void;
  /** dpre = (dha + dhb) ⊙ act'(h); returns Σ (dha + dhb)². */
  act_tanh_backward_add(dpre: number, dha: number, dhb: number, h: number, n: number): number;
  act_relu_backward_add(dpre: number, dha: number, dhb: number, h: number, n: number): number;
  count_saturated_tanh(h: number, n: number): number;
  count_saturated_relu(h: number, n: number): number;
  /** One Adam / AdamW step in float32 over n elements; `scalars` points to 9 f32 (see wat/elementwise.ts adamStep). */
  adam_step(p: number, g: number, m: number, v: number, n: number, scalars: number, fromEnd: number): void;
  add_bias(out: number, bias: number, N: number, C: number): void;
  /** dbias(C) += Σ rows of dout, rows ld bytes apart. */
  bias_grad_add(dbias: number, dout: number, N: number, C: number, ld: number): void;
  /** out(B, H) += W(H, I)[:, ids[b]] / dW(H, I)[:, ids[b]] += dout(B, H)[b, :], walking columns (ids < 0 skipped). */
  gather_columns_add(out: number, ids: number, W: number, B: number, H: number, I: number): void;
  scatter_columns_add(dW: number, ids: number, dout: number, B: number, H: number, I: number): void;
  /** out(N, C)[r] += WT(I, C)[ids[r]] (ids < 0 skipped). */
  gather_rows_add(out: number, ids: number, WT: number, N: number, C: number): void;
  /** dW(H, I)[c0 + c, ids[r]] += dout(N, H)[r, c0 + c] for c in [0, w), through scratch (I, w) (ids < 0 skipped). */
  scatter_columns_band(dW: number, ids: number, dout: number, N: number, H: number, I: number, c0: number, w: number, scratch: number): void;
  softmax_rows(probs: number, stats: number, logits: number, N: number, C: number): void;
  /** scaleBits: the f32 bits of scale. */
  softmax_xent_backward(dlogits: number, probs: number, targets: number, N: number, C: number, scaleBits: number): void;
  /** The window recurrence forward / backward on rows [r0, r0 + nb) (see wat/recurrence.ts); relu 0 = tanh. */
  rnn_forward_steps(
    hs: number, whh: number, bhh: number, K: number, B: number, H: number, relu: number, r0: number, nb: number, whht: number, whhtPacked: number,
  ): void;
  /** out = b(K, N) in the packed-slab layout of the NN driver (wat/gemm.ts). */
  pack_b(out: number, b: number, K: number, N: number, ldb: number): void;
  /** out(C, R) = in(R, C)ᵀ. */
  transpose(out: number, input: number, R: number, C: number): void;
  rnn_backward_steps(
    dhs: number, dhnext: number, rowsq: number, hs: number, whh: number, K: number, B: number, H: number, relu: number, r0: number, nb: number,
    whhPacked: number,
  ): void;
  /** Σ x² in double / x ← x·factor in double (see wat/norms.ts). */
  sum_squares(x: number, n: number): number;
  scale_in_place(x: number, n: number, factor: number): void;
  /** This instance's (thread's) GEMM packing buffer; 0 bytes turns packing off. */
  set_pack_buffer(ptr: number, bytes: number): void;
  simd_peak_8(iterations: number): number;
  simd_peak_12(iterations: number): number;
  simd_peak_16(iterations: number): number;
  simd_peak_24(iterations: number): number;
  /** Present in the fma build only. */
  simd_peak_fma_8?(iterations: number): number;
  simd_peak_fma_12?(iterations: number): number;
  simd_peak_fma_16?(iterations: number): number;
  simd_peak_fma_24?(iterations: number): number;
}

export function instantiateKernels(module: WasmModule, memory: WasmMemory): KernelExports {
  const instance = new wasmApi.Instance(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}
