// One flat parameter buffer with named views, in PyTorch's order and shapes (llm.c layout).
// Gradients and optimizer moments reuse the same layout: same offsets, same sizes.
//
// Shapes: I input size (V for token inputs), H hidden, O output size. Row-major.

export type FloatArray = Float32Array | Float64Array;
export type FloatArrayConstructor = Float32ArrayConstructor | Float64ArrayConstructor;
export type Dtype = 'float32' | 'float64';

export const PARAM_NAMES = ['Wxh', 'Whh', 'bih', 'bhh', 'Why', 'by'] as const;
export type ParamName = (typeof PARAM_NAMES)[number];

export const TORCH_NAMES: Record<ParamName, string> = {
  Wxh: 'rnn.weight_ih_l0', // (H, I)
  Whh: 'rnn.weight_hh_l0', // (H, H)
  bih: 'rnn.bias_ih_l0', // (H)
  bhh: 'rnn.bias_hh_l0', // (H)
  Why: 'fc.weight', // (O, H)
  by: 'fc.bias', // (O)
};

export interface ParamView {
  readonly name: ParamName;
  readonly torchName: string;
  readonly offset: number;
  readonly shape: readonly number[];
  readonly size: number;
}

export interface ParamLayout {
  readonly I: number;
  readonly H: number;
  readonly O: number;
  readonly views: readonly ParamView[];
  readonly byName: Readonly<Record<ParamName, ParamView>>;
  /** Total number of scalars in the flat buffer. */
  readonly total: number;
}

export function paramLayout(I: number, H: number, O: number): ParamLayout {
  const shapes: Record<ParamName, number[]> = {
    Wxh: [H, I],
    Whh: [H, H],
    bih: [H],
    bhh: [H],
    Why: [O, H],
    by: [O],
  };
  let offset = 0;
  const views: ParamView[] = [];
  for (const name of PARAM_NAMES) {
    const shape = shapes[name];
    const size = shape.reduce((a, b) => a * b, 1);
    views.push({ name, torchName: TORCH_NAMES[name], offset, shape, size });
    offset += size;
  }
  const byName = Object.fromEntries(views.map((v) => [v.name, v])) as Record<ParamName, ParamView>;
  return { I, H, O, views, byName, total: offset };
}

/** Named subarray views (no copies) of a flat buffer laid out by `layout`. */
export function viewsOf<T extends FloatArray>(buf: T, layout: ParamLayout): Record<ParamName, T> {
  if (buf.length !== layout.total) {
    throw new RangeError(`buffer has ${buf.length} scalars, layout needs ${layout.total}`);
  }
  const out = {} as Record<ParamName, T>;
  for (const v of layout.views) out[v.name] = buf.subarray(v.offset, v.offset + v.size) as T;
  return out;
}

export function arrayCtor(dtype: Dtype): FloatArrayConstructor {
  return dtype === 'float64' ? Float64Array : Float32Array;
}
