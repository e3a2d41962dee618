// Tiny helpers for writing WebAssembly text (folded S-expressions) from TypeScript, so the
// unrolled register-blocked kernels are generated from one template instead of typed out.

export const get = (name: string): string => `(local.get $${name})`;
export const set = (name: string, value: string): string => `(local.set $${name} ${value})`;
export const i32 = (n: number): string => `(i32.const ${n})`;
export const add32 = (a: string, b: string): string => `(i32.add ${a} ${b})`;
export const sub32 = (a: string, b: string): string => `(i32.sub ${a} ${b})`;
export const mul32 = (a: string, b: string): string => `(i32.mul ${a} ${b})`;
/** min(a, b) of two signed i32 expressions (each appears, and runs, twice: keep them cheap and side-effect free). */
export const min32 = (a: string, b: string): string => `(select ${a} ${b} (i32.lt_s ${a} ${b}))`;
export const inc = (name: string, by: string): string => set(name, add32(get(name), by));

let labelCounter = 0;

/** Restarts label numbering so the same generator input always gives the same text. */
export function resetLabels(): void {
  labelCounter = 0;
}

/** `while (cond) { body }` with fresh labels. */
export function whileLoop(cond: string, body: string[]): string {
  const id = labelCounter++;
  return `(block $exit${id} (loop $top${id}
    (br_if $exit${id} (i32.eqz ${cond}))
    ${body.join('\n    ')}
    (br $top${id})))`;
}

/** `do { body } while (cond)` — the kernel inner loops, one branch per iteration. */
export function doWhile(body: string[], cond: string): string {
  const id = labelCounter++;
  return `(loop $do${id}
    ${body.join('\n    ')}
    (br_if $do${id} ${cond}))`;
}

export function locals(names: string[], type: string): string {
  return names.map((n) => `(local $${n} ${type})`).join(' ');
}

export function params(names: string[], type = 'i32'): string {
  return names.map((n) => `(param $${n} ${type})`).join(' ');
}

/** Scalar (f32) or 4-lane (f32x4) arithmetic, so one math template serves main loop and tail. */
export interface FloatOps {
  readonly type: 'f32' | 'v128';
  c(x: number): string;
  add(a: string, b: string): string;
  sub(a: string, b: string): string;
  mul(a: string, b: string): string;
  div(a: string, b: string): string;
  min(a: string, b: string): string;
  max(a: string, b: string): string;
  /**
   * max(min(x, hi), lo) for constant bounds lo < hi. f32x4 uses pmin/pmax (one instruction each on x64;
   * f32x4.min/max need several for their NaN and −0 rules): x first, so a NaN x stays NaN, and
   * for numbers the result equals the scalar min/max form bit for bit.
   */
  clamp(x: string, lo: string, hi: string): string;
  /** a·b + c */
  madd(a: string, b: string, c: string): string;
  load(addr: string, offset?: number): string;
  store(addr: string, value: string, offset?: number): string;
}

const f32Const = (x: number): string => {
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return Number.isInteger(x) ? `${x}.0` : x.toString();
};

export const scalarOps: FloatOps = {
  type: 'f32',
  c: (x) => `(f32.const ${f32Const(x)})`,
  add: (a, b) => `(f32.add ${a} ${b})`,
  sub: (a, b) => `(f32.sub ${a} ${b})`,
  mul: (a, b) => `(f32.mul ${a} ${b})`,
  div: (a, b) => `(f32.div ${a} ${b})`,
  min: (a, b) => `(f32.min ${a} ${b})`,
  max: (a, b) => `(f32.max ${a} ${b})`,
  clamp: (x, lo, hi) => `(f32.max (f32.min ${x} ${hi}) ${lo})`,
  madd: (a, b, c) => `(f32.add (f32.mul ${a} ${b}) ${c})`,
  load: (addr, offset = 0) => `(f32.load offset=${offset} ${addr})`,
  store: (addr, value, offset = 0) => `(f32.store offset=${offset} ${addr} ${value})`,
};

export const vectorOps: FloatOps = {
  type: 'v128',
  c: (x) => {
    const s = f32Const(x);
    return `(v128.const f32x4 ${s} ${s} ${s} ${s})`;
  },
  add: (a, b) => `(f32x4.add ${a} ${b})`,
  sub: (a, b) => `(f32x4.sub ${a} ${b})`,
  mul: (a, b) => `(f32x4.mul ${a} ${b})`,
  div: (a, b) => `(f32x4.div ${a} ${b})`,
  min: (a, b) => `(f32x4.min ${a} ${b})`,
  max: (a, b) => `(f32x4.max ${a} ${b})`,
  clamp: (x, lo, hi) => `(f32x4.pmax (f32x4.pmin ${x} ${hi}) ${lo})`,
  madd: (a, b, c) => `(f32x4.add (f32x4.mul ${a} ${b}) ${c})`,
  load: (addr, offset = 0) => `(v128.load offset=${offset} ${addr})`,
  store: (addr, value, offset = 0) => `(v128.store offset=${offset} ${addr} ${value})`,
};

/**
 * f32x4 with a·b + c as one relaxed-SIMD multiply-add: fused (one rounding) where the CPU has
 * FMA, which doubles the multiply-add throughput on x64 cores whose adds share the FMA ports.
 */
export const vectorFmaOps: FloatOps = {
  ...vectorOps,
  madd: (a, b, c) => `(f32x4.relaxed_madd ${a} ${b} ${c})`,
};
