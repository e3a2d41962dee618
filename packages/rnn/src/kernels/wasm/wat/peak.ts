// The machine's WebAssembly SIMD peak: independent f32x4 multiply-add chains in registers, no
// memory traffic. Each iteration does `chains` × (mul + add) on 4 lanes = 8·chains flops.

import { doWhile, get, i32, locals, set } from './dsl.ts';

export const PEAK_CHAINS = [8, 12, 16, 24] as const;

function peakFunction(chains: number, fma: boolean): string {
  const names = [...Array(chains).keys()].map((c) => `c${c}`);
  const madd = (n: string): string =>
    fma ? `(f32x4.relaxed_madd ${get(n)} ${get('m')} ${get('d')})` : `(f32x4.add (f32x4.mul ${get(n)} ${get('m')}) ${get('d')})`;
  const body = names.map((n) => set(n, madd(n)));
  body.push(set('k', `(i32.sub ${get('k')} ${i32(1)})`));
  // the result depends on every chain so none can be removed
  const total = names.slice(1).reduce((acc, n) => `(f32x4.add ${acc} ${get(n)})`, get(names[0]));
  return `
(func (export "simd_peak_${fma ? 'fma_' : ''}${chains}") (param $iterations i32) (result f32)
  (local $k i32) (local $m v128) (local $d v128) ${locals(names, 'v128')}
  ${set('m', '(v128.const f32x4 0.999 0.999 0.999 0.999)')}
  ${set('d', '(v128.const f32x4 0.001 0.001 0.001 0.001)')}
  ${names.map((n, i) => set(n, `(f32x4.splat (f32.const ${(i + 1) / chains}))`)).join('\n  ')}
  ${set('k', get('iterations'))}
  (if (i32.gt_s ${get('k')} ${i32(0)}) (then
    ${doWhile(body, get('k'))}))
  (f32x4.extract_lane 0 ${total}))`;
}

/** simd_peak_N (mul then add) always; simd_peak_fma_N (relaxed madd) in the FMA build. */
export function peakFunctions(fma: boolean): string {
  const variants = fma ? [false, true] : [false];
  return variants.flatMap((f) => PEAK_CHAINS.map((chains) => peakFunction(chains, f))).join('\n');
}
