// Assembles the generated kernel text into a .wasm binary with wabt (pure JS/wasm, from npm),
// so a fresh checkout builds it with nothing but `pnpm install`. The loader builds on first use;
// build-cli.ts builds ahead of time.

import { createHash } from 'node:crypto';
import { type KernelVariant, PLAIN_VARIANT, kernelModuleText } from './wat/module.ts';

export interface KernelSource {
  variant: KernelVariant;
  text: string;
  /** sha256 of the text: names the cached binary, so a source change always rebuilds. */
  hash: string;
}

export function kernelSource(variant: KernelVariant = PLAIN_VARIANT): KernelSource {
  const text = kernelModuleText(variant);
  return { variant, text, hash: createHash('sha256').update(text).digest('hex').slice(0, 16) };
}

export async function assemble(source: KernelSource): Promise<Uint8Array> {
  const { text } = source;
  const { default: initWabt } = await import('wabt');
  const wabt = await initWabt();
  const features = { simd: true, threads: true, relaxed_simd: source.variant.fma };
  const module = wabt.parseWat('kernels.wat', text, features);
  try {
    module.resolveNames();
    // validate() takes the feature set again (wabt.js does not keep it from parseWat)
    (module.validate as (options: typeof features) => void)(features);
    return module.toBinary({ log: false, canonicalize_lebs: true, write_debug_names: false }).buffer;
  } finally {
    module.destroy();
  }
}
