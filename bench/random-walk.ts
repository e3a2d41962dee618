// The synthetic corpus of the reference benchmarks: a random walk over V ids, each step 1–5 ids
// forward (mod V), driven by xorshift32 — some structure to learn, no file to ship.

/** Fills `out` with the walk from `state` (a non-zero xorshift32 state), each id plus `offset`. */
export function fillRandomWalk(out: Int32Array | Uint8Array, V: number, state: number, offset = 0): void {
  let s = state >>> 0;
  let cur = 0;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    cur = (cur + 1 + (s % 5)) % V;
    out[i] = offset + cur;
  }
}
