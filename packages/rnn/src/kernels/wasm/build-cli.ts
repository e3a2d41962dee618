// Builds the cached kernel binaries ahead of time (the loader otherwise builds them on first use),
// e.g. in a container image: `node --import tsx packages/rnn/src/kernels/wasm/build-cli.ts`.

import { buildCachedKernelBinary, defaultVariant } from './load.ts';
import { PLAIN_VARIANT } from './wat/module.ts';

for (const variant of [PLAIN_VARIANT, defaultVariant()]) {
  console.log(`wasm kernels built (fma ${variant.fma}): ${await buildCachedKernelBinary(variant)}`);
}
