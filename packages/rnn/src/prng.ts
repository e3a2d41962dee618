// Deterministic pseudo-random numbers: xoshiro128** (Blackman & Vigna, 2018) seeded by
// splitmix32. Everything uses 32-bit integer ops (Math.imul, >>>), so the stream is identical
// on every platform and JS engine. The whole state — four xoshiro words plus the cached
// Box–Muller spare — round-trips through getState()/setState(), so a checkpointed run resumes
// on exactly the same random stream.

const STATE_WORDS = 7; // s0..s3, hasSpare, spare (float64 as two uint32 words, little-endian)
const TWO_POW_32 = 4294967296;

/** splitmix32 step: returns [next state, output]. Used only to expand the seed. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  z ^= z >>> 15;
  return [next, z >>> 0];
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export class Prng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private hasSpare = false;
  private spare = 0;
  // scratch for float64 <-> uint32 words in getState/setState (explicit little-endian)
  private static readonly scratch = new DataView(new ArrayBuffer(8));

  /**
   * `seed`: any safe integer (negative values wrap modulo 2^32; bits above 32 are folded in).
   * The same seed always gives the same stream.
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed)) throw new RangeError(`Prng seed must be a safe integer, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / TWO_POW_32) >>> 0;
    let sm = (lo ^ Math.imul(hi, 0x85ebca6b)) | 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, out] = splitmix32(sm);
      sm = next;
      words.push(out);
    }
    [this.s0, this.s1, this.s2, this.s3] = words;
    // xoshiro must never be all zero (it would stay zero forever).
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next raw 32-bit output, an integer in [0, 2^32). */
  nextUint32(): number {
    const s0 = this.s0, s1 = this.s1, s2 = this.s2, s3 = this.s3;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    this.s1 = s1 ^ n2;
    this.s0 = s0 ^ n3;
    this.s2 = n2 ^ t;
    this.s3 = rotl(n3, 11);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits (consumes two 32-bit outputs). */
  nextFloat(): number {
    const a = this.nextUint32() >>> 5; // 27 bits
    const b = this.nextUint32() >>> 6; // 26 bits
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** Uniform double in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.nextFloat();
  }

  /** Standard normal N(0, 1), Box–Muller; the second value of each pair is cached (part of the state). */
  normal(): number {
    if (this.hasSpare) {
      this.hasSpare = false;
      return this.spare;
    }
    // 1 - u keeps the log argument in (0, 1].
    const u1 = 1 - this.nextFloat();
    const u2 = this.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u1));
    const theta = 2 * Math.PI * u2;
    this.spare = r * Math.sin(theta);
    this.hasSpare = true;
    return r * Math.cos(theta);
  }

  /** A copy of the full state (7 words): restores the stream exactly via setState/fromState. */
  getState(): Uint32Array {
    const d = Prng.scratch;
    d.setFloat64(0, this.spare, true);
    return Uint32Array.of(
      this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0,
      this.hasSpare ? 1 : 0, d.getUint32(0, true), d.getUint32(4, true),
    );
  }

  setState(s: Uint32Array): void {
    if (s.length !== STATE_WORDS) throw new RangeError(`Prng state must have ${STATE_WORDS} words, got ${s.length}`);
    if ((s[0] | s[1] | s[2] | s[3]) === 0) throw new RangeError('Prng state must not be all zero');
    if (s[4] > 1) throw new RangeError(`Prng state word 4 (hasSpare) must be 0 or 1, got ${s[4]}`);
    this.s0 = s[0] | 0;
    this.s1 = s[1] | 0;
    this.s2 = s[2] | 0;
    this.s3 = s[3] | 0;
    this.hasSpare = s[4] === 1;
    const d = Prng.scratch;
    d.setUint32(0, s[5], true);
    d.setUint32(4, s[6], true);
    this.spare = d.getFloat64(0, true);
  }

  static fromState(s: Uint32Array): Prng {
    const rng = new Prng(0);
    rng.setState(s);
    return rng;
  }
}
