// Register-blocked f32x4 GEMM kernels for the three products BPTT needs (row-major, f32):
//
//   gemm_nt: out(M, N) (+)= a(M, K) · b(N, K)ᵀ   forward x·Wᵀ: dot products along K
//   gemm_nn: out(M, N) (+)= a(M, K) · b(K, N)    dh_prev = dpre · W
//   gemm_tn: out(M, N) (+)= a(K, M)ᵀ · b(K, N)   dW += dpreᵀ · x
//
// NN and TN are outer-product kernels: a block of MR output rows × NV·4 columns lives in
// MR·NV f32x4 accumulators; each k broadcasts MR scalars of a and loads NV vectors of b. Their
// drivers walk row panels × K chunks (GotoBLAS order) so long-K products stay in cache.
// NT keeps MR rows of a against NR rows of b, one f32x4 partial dot per pair, reduced
// horizontally at the end (K tail done in scalar). Edges use 1-row / 1-vector / scalar blocks.
// Every block reads `out` first when `acc` is set, so overwrite never needs a separate clear.

import {
  type FloatOps, add32, doWhile, get, i32, inc, locals, min32, mul32, params, scalarOps, set, sub32, vectorFmaOps, vectorOps, whileLoop,
} from './dsl.ts';

export interface GemmBlocking {
  /** Rows per outer-product block (NN, TN). */
  outerRows: number;
  /** f32x4 vectors per outer-product block row (columns = 4 × this). */
  outerVectors: number;
  /** Rows of a per dot-product block (NT). */
  dotRows: number;
  /** Rows of b per dot-product block (NT). */
  dotCols: number;
  /**
   * K chunk for NN / TN: the sweep over all output blocks runs once per chunk of K so the
   * chunk's panels of a and b stay in L2 (a long K otherwise streams b from memory per block).
   */
  kChunk: number;
  /** Row panel for NN / TN: the K chunks run per panel of this many output rows, which stays in L2. */
  mChunk: number;
}

// V8 on x64 has 16 xmm registers for wasm SIMD: blocks are sized so the accumulators, the
// broadcast scalars and one b vector fit without spills. 4×8 (outer) and 2×4 (dot) measured
// best or within noise of it on both builds (`bench/gemm.ts --sweep`).
export const DEFAULT_BLOCKING: GemmBlocking = { outerRows: 4, outerVectors: 2, dotRows: 2, dotCols: 4, kChunk: 64, mChunk: 64 };

// Single rows (a batch of one stream, or the last rows of a product) get wider blocks: a 1×8
// outer block has only two multiply-add chains and waits on their latency; 8 vectors (32
// columns) or 8 dot products keep the FMA units busy. Per element the order of the additions
// is the same whatever the width, so results do not depend on it.
const SINGLE_ROW_OUTER_VECTORS = 8;
const SINGLE_ROW_DOT_COLS = 8;

const BLOCK_PARAMS = params(['o', 'a', 'b', 'K', 'lda', 'ldb', 'ldo', 'acc']);

/** width > 0: width f32x4 columns; width 0: one scalar column. */
function outerBlock(kind: 'nn' | 'tn', mr: number, width: number, vops: FloatOps): string {
  const ops = width > 0 ? vops : scalarOps;
  const nv = Math.max(width, 1);
  const bytes = width > 0 ? 16 : 4;
  const name = `${kind}_${mr}x${width > 0 ? width * 4 : 1}`;
  const c = (r: number, v: number): string => `c${r}_${v}`;
  const cNames: string[] = [];
  for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) cNames.push(c(r, v));
  const rows = [...Array(mr).keys()];
  const vecs = [...Array(nv).keys()];
  // a(i0 + r, k), broadcast to 4 lanes by one load32_splat: NN rows advance 4 bytes per k; TN
  // columns sit at constant offsets 4r. (Unrolling k by 2 made V8 hoist both steps' loads and
  // spill accumulators: one step per iteration compiles to loads + FMAs with no spills.)
  const load = width > 0 ? 'v128.load32_splat' : 'f32.load';
  const aLoad = (r: number): string =>
    kind === 'nn' ? `(${load} ${get(`pa${r}`)})` : `(${load} offset=${4 * r} ${get('pa')})`;
  const body: string[] = [];
  for (const r of rows) body.push(set(`s${r}`, aLoad(r)));
  for (const v of vecs) {
    body.push(set('bv', ops.load(get('pb'), v * bytes)));
    for (const r of rows) body.push(set(c(r, v), ops.madd(get(`s${r}`), get('bv'), get(c(r, v)))));
  }
  if (kind === 'nn') for (const r of rows) body.push(inc(`pa${r}`, i32(4)));
  else body.push(inc('pa', get('lda')));
  body.push(inc('pb', get('ldb')));
  body.push(set('k', `(i32.sub ${get('k')} ${i32(1)})`));
  const aPointers = kind === 'nn' ? rows.map((r) => `pa${r}`) : ['pa'];
  return `
(func $${name} ${BLOCK_PARAMS}
  ${locals(cNames, ops.type)} ${locals(rows.map((r) => `s${r}`), ops.type)} (local $bv ${ops.type})
  ${locals(rows.map((r) => `po${r}`), 'i32')} ${locals(aPointers, 'i32')} (local $pb i32) (local $k i32)
  ${rows.map((r) => set(`po${r}`, add32(get('o'), mul32(get('ldo'), i32(r))))).join('\n  ')}
  (if ${get('acc')} (then
    ${cNames.map((n, idx) => set(n, ops.load(get(`po${Math.floor(idx / nv)}`), (idx % nv) * bytes))).join('\n    ')}))
  ${kind === 'nn' ? rows.map((r) => set(`pa${r}`, add32(get('a'), mul32(get('lda'), i32(r))))).join('\n  ') : set('pa', get('a'))}
  ${set('pb', get('b'))}
  ${set('k', get('K'))}
  (if (i32.gt_s ${get('k')} ${i32(0)}) (then
    ${doWhile(body, get('k'))}))
  ${cNames.map((n, idx) => ops.store(get(`po${Math.floor(idx / nv)}`), get(n), (idx % nv) * bytes)).join('\n  ')})`;
}

function dotBlock(mr: number, nr: number, vops: FloatOps): string {
  const name = `nt_${mr}x${nr}`;
  const rows = [...Array(mr).keys()];
  const cols = [...Array(nr).keys()];
  const pairs = rows.flatMap((r) => cols.map((c) => [r, c] as const));
  const vAt = (p: string): string => add32(get(p), get('off'));
  const vecBody: string[] = [];
  for (const r of rows) vecBody.push(set(`av${r}`, vectorOps.load(vAt(`pa${r}`))));
  for (const c of cols) {
    vecBody.push(set('bv', vectorOps.load(vAt(`pb${c}`))));
    for (const r of rows) {
      vecBody.push(set(`c${r}_${c}`, vops.madd(get(`av${r}`), get('bv'), get(`c${r}_${c}`))));
    }
  }
  vecBody.push(inc('off', i32(16)));
  const tailBody: string[] = [];
  for (const r of rows) tailBody.push(set(`as${r}`, scalarOps.load(vAt(`pa${r}`))));
  for (const c of cols) {
    tailBody.push(set('bs', scalarOps.load(vAt(`pb${c}`))));
    for (const r of rows) tailBody.push(set(`t${r}_${c}`, scalarOps.add(get(`t${r}_${c}`), scalarOps.mul(get(`as${r}`), get('bs')))));
  }
  tailBody.push(inc('off', i32(4)));
  const lane = (v: string, l: number): string => `(f32x4.extract_lane ${l} ${v})`;
  const hsum = (v: string): string =>
    `(f32.add (f32.add ${lane(v, 0)} ${lane(v, 1)}) (f32.add ${lane(v, 2)} ${lane(v, 3)}))`;
  const rowAddr = (r: number): string => add32(get('o'), mul32(get('ldo'), i32(r)));
  return `
(func $${name} ${BLOCK_PARAMS}
  ${locals(pairs.map(([r, c]) => `c${r}_${c}`), 'v128')} ${locals(rows.map((r) => `av${r}`), 'v128')} (local $bv v128)
  ${locals(pairs.map(([r, c]) => `t${r}_${c}`), 'f32')} ${locals(rows.map((r) => `as${r}`), 'f32')} (local $bs f32)
  ${locals(rows.map((r) => `pa${r}`), 'i32')} ${locals(cols.map((c) => `pb${c}`), 'i32')} (local $off i32) (local $end i32)
  ${rows.map((r) => set(`pa${r}`, add32(get('a'), mul32(get('lda'), i32(r))))).join('\n  ')}
  ${cols.map((c) => set(`pb${c}`, add32(get('b'), mul32(get('ldb'), i32(c))))).join('\n  ')}
  ${set('end', `(i32.shl (i32.shr_u ${get('K')} ${i32(2)}) ${i32(4)})`)}
  (if (i32.gt_s ${get('end')} ${i32(0)}) (then
    ${doWhile(vecBody, `(i32.lt_u ${get('off')} ${get('end')})`)}))
  ${pairs.map(([r, c]) => set(`t${r}_${c}`, hsum(get(`c${r}_${c}`)))).join('\n  ')}
  ${set('end', `(i32.shl ${get('K')} ${i32(2)})`)}
  ${whileLoop(`(i32.lt_u ${get('off')} ${get('end')})`, tailBody)}
  (if ${get('acc')} (then
    ${pairs.map(([r, c]) => set(`t${r}_${c}`, scalarOps.add(get(`t${r}_${c}`), scalarOps.load(rowAddr(r), 4 * c)))).join('\n    ')}))
  ${pairs.map(([r, c]) => scalarOps.store(rowAddr(r), get(`t${r}_${c}`), 4 * c)).join('\n  ')})`;
}

// Drivers take explicit leading dimensions (bytes between rows) so a caller can run a sub-block
// of a product, e.g. one thread's share of the output rows; gemm_xx wrappers pass the dense ones.
const DRIVER_PARAMS = params(['o', 'a', 'b', 'M', 'N', 'K', 'lda', 'ldb', 'ldo', 'acc']);
const DRIVER_LOCALS = locals(['i', 'j', 'pa', 'po'], 'i32');

/** Exported dense entry point: leading dimensions from the shapes. */
function denseWrapper(kind: 'nn' | 'tn' | 'nt'): string {
  const lda = kind === 'tn' ? get('M') : get('K');
  const ldb = kind === 'nt' ? get('K') : get('N');
  return `
(func (export "gemm_${kind}") ${params(['o', 'a', 'b', 'M', 'N', 'K', 'acc'])}
  (call $gemm_${kind}_ld ${get('o')} ${get('a')} ${get('b')} ${get('M')} ${get('N')} ${get('K')}
    ${mul32(lda, i32(4))} ${mul32(ldb, i32(4))} ${mul32(get('N'), i32(4))} ${get('acc')}))`;
}

/** Row loop shared by all drivers: rows [i, end) in full blocks of `mr` rows, then single rows. */
function rowLoop(mr: number, rowBlock: (mr: number) => string[], end = 'M'): string {
  return [
    whileLoop(`(i32.le_s ${add32(get('i'), i32(mr))} ${get(end)})`, [...rowBlock(mr), inc('i', i32(mr))]),
    whileLoop(`(i32.lt_s ${get('i')} ${get(end)})`, [...rowBlock(1), inc('i', i32(1))]),
  ].join('\n  ');
}

/**
 * A block call with explicit operand addresses and leading dimensions (packed or not), over k
 * steps, accumulating when acc (locals; the outer drivers pass their K chunk).
 */
function blockCall(block: string, oAddr: string, aAddr: string, lda: string, bAddr: string, ldb: string, k = 'kc', acc = 'accK'): string {
  return `(call $${block} ${oAddr} ${aAddr} ${bAddr} ${get(k)} ${lda} ${ldb} ${get('ldo')} ${get(acc)})`;
}

// Packing (GotoBLAS): per row panel and K chunk, the chunk of b is copied into contiguous
// 8-column slabs (kc × 32 bytes each) and, for TN, the panel of a into 4-row slabs (kc × 16
// bytes), so a block's kc steps read consecutive bytes instead of one row (and often one page)
// per step. Each thread's instance gets its own buffer through set_pack_buffer; a product packs
// when the buffer is set and large enough, b's rows are long (N ≥ PACK_MIN_COLS: a row per k is
// then a new page every few steps) and the panel has at least PACK_MIN_ROWS rows to share the
// copies. Packing moves data only: every element is computed in the same order.
// Measured (fma build, 22:58 UTC, best of 30 × 10 ms, packed / not): TN 512×512×4096 39.7 / 23.3
// GFLOP/s, TN 65×512×4096 40.5 / 33, NN 64×512×512 42.3 / 36.5; at N = 128 it does not pay
// (NN 2048×128×65 38.9 / 40.5, NN 32×128×128 41.2 / 44).
export const PACK_MIN_ROWS = 16;
export const PACK_MIN_COLS = 256;
// A packed product runs larger panels and K chunks (more rows share each copy; the panel, the
// chunk of b and the slabs still fit a 1.25 MiB L2): L shapes +3–10 % over 64 × 64 in a sweep
// (22:57 UTC); the unpacked (smaller) products keep the blocking's chunks, which suit them better.
const PACKED_K_CHUNK = 128;
const PACKED_M_CHUNK = 128;

/** N rounded down to whole slabs of nv vectors (the columns the packed slabs hold). */
const slabColumns = (nv: number): string => sub32(get('N'), `(i32.rem_s ${get('N')} ${i32(nv * 4)})`);
/** min(max, K − k0): the length of the K chunk starting at k0. */
const chunkLength = (max: string): string => min32(max, sub32(get('K'), get('k0')));

function outerDriver(kind: 'nn' | 'tn', mr: number, nv: number, kChunk: number, mChunk: number): string {
  const oAt = add32(get('po'), mul32(get('j'), i32(4)));
  const bAt = add32(get('bk'), mul32(get('j'), i32(4)));
  const sel = (yes: string, no: string): string => `(select ${yes} ${no} ${get('packed')})`;
  const rowBlock = (rows: number): string[] => {
    const vectors = rows === 1 ? SINGLE_ROW_OUTER_VECTORS : nv;
    const colsPerBlock = vectors * 4;
    const full = rows === mr && vectors === nv; // the blocks the packed slabs are shaped for
    const unpackedA = kind === 'nn' ? add32(get('ak'), mul32(get('i'), get('lda'))) : add32(get('ak'), mul32(get('i'), i32(4)));
    const aAddr = full && kind === 'tn' ? sel(add32(get('apk'), mul32(mul32(sub32(get('i'), get('i0')), get('kc')), i32(4))), get('pa')) : get('pa');
    const lda = full && kind === 'tn' ? sel(i32(4 * mr), get('lda')) : get('lda');
    const wideB = full ? sel(add32(get('pkb'), mul32(mul32(get('j'), get('kc')), i32(4))), bAt) : bAt;
    const wideLdb = full ? sel(i32(colsPerBlock * 4), get('ldb')) : get('ldb');
    return [
      set('pa', unpackedA),
      set('po', add32(get('o'), mul32(get('i'), get('ldo')))),
      set('j', i32(0)),
      whileLoop(`(i32.le_s ${add32(get('j'), i32(colsPerBlock))} ${get('N')})`, [
        blockCall(`${kind}_${rows}x${colsPerBlock}`, oAt, aAddr, lda, wideB, wideLdb), inc('j', i32(colsPerBlock)),
      ]),
      ...(vectors > 1
        ? [whileLoop(`(i32.le_s ${add32(get('j'), i32(4))} ${get('N')})`, [blockCall(`${kind}_${rows}x4`, oAt, aAddr, lda, bAt, get('ldb')), inc('j', i32(4))])]
        : []),
      whileLoop(`(i32.lt_s ${get('j')} ${get('N')})`, [blockCall(`${kind}_${rows}x1`, oAt, aAddr, lda, bAt, get('ldb')), inc('j', i32(1))]),
    ];
  };
  // TN: the panel's full 4-row blocks of a: block (i − i0)/mr holds a[k0 + kk, i .. i + mr) at apk + (i − i0)·kc·4 + kk·4·mr
  const packA = kind === 'tn'
    ? [
        set('apk', add32(get('pk'), mul32(mul32(slabColumns(nv), get('kc')), i32(4)))),
        set('i', get('i0')),
        whileLoop(`(i32.le_s ${add32(get('i'), i32(mr))} ${get('iEnd')})`, [
          set('src', add32(get('ak'), mul32(get('i'), i32(4)))),
          set('dst', add32(get('apk'), mul32(mul32(sub32(get('i'), get('i0')), get('kc')), i32(4)))),
          set('kk', i32(0)),
          whileLoop(`(i32.lt_s ${get('kk')} ${get('kc')})`, [
            `(v128.store ${get('dst')} (v128.load ${get('src')}))`,
            inc('src', get('lda')), inc('dst', i32(4 * mr)), inc('kk', i32(1)),
          ]),
          inc('i', i32(mr)),
        ]),
      ]
    : [];
  // bytes the packed chunk needs: b's full slabs (+ a's panel for TN), at the largest kc
  const need = add32(mul32(mul32(get('N'), i32(PACKED_K_CHUNK)), i32(4)), kind === 'tn' ? i32(PACKED_M_CHUNK * PACKED_K_CHUNK * 4) : i32(0));
  // panels of mChunk rows (GotoBLAS order: the panel of out stays in cache across K chunks);
  // chunk k0..k0+kc: a moves 4 bytes per k (NN) or one row (TN), b one row per k; after the
  // first chunk every block accumulates. K = 0 still runs one (empty) chunk so overwrite clears.
  return `
(func $gemm_${kind}_ld (export "gemm_${kind}_ld") ${DRIVER_PARAMS} ${DRIVER_LOCALS} (local $k0 i32) (local $kc i32) (local $ak i32) (local $bk i32) (local $i0 i32) (local $iEnd i32) (local $accK i32)
  (local $pk i32) (local $apk i32) (local $packed i32) (local $src i32) (local $dst i32) (local $kk i32)
  (local $packs i32) (local $kcMax i32) (local $mc i32) (local $pkb i32)
  ${set('pk', '(global.get $pack)')}
  ${set('packs', `(i32.and (i32.and (i32.and (i32.ne ${get('pk')} ${i32(0)}) (i32.ge_s ${get('N')} ${i32(PACK_MIN_COLS)})) (i32.ge_s ${get('M')} ${i32(PACK_MIN_ROWS)})) (i32.le_u ${need} (global.get $packBytes)))`)}
  ${set('kcMax', `(select ${i32(PACKED_K_CHUNK)} ${i32(kChunk)} ${get('packs')})`)}
  ${set('mc', `(select ${i32(PACKED_M_CHUNK)} ${i32(mChunk)} ${get('packs')})`)}
  (loop $panels
    ${set('iEnd', min32(add32(get('i0'), get('mc')), get('M')))}
    ${set('packed', `(i32.and ${get('packs')} (i32.ge_s (i32.sub ${get('iEnd')} ${get('i0')}) ${i32(PACK_MIN_ROWS)}))`)}
    ${set('k0', i32(0))}
    ${set('accK', get('acc'))}
    (loop $chunks
      ${set('kc', chunkLength(get('kcMax')))}
      ${set('ak', add32(get('a'), mul32(get('k0'), kind === 'nn' ? i32(4) : get('lda'))))}
      ${set('bk', add32(get('b'), mul32(get('k0'), get('ldb'))))}
      (if ${get('packed')} (then
        ;; b packed once for many calls (rnn_*_steps: the recurrent weights, per window) or now
        (if (i32.and (i32.ne (global.get $prepacked) ${i32(0)}) (i32.eq (global.get $prepackedFrom) ${get('b')}))
          (then ${set('pkb', add32('(global.get $prepacked)', mul32(mul32(get('k0'), slabColumns(nv)), i32(4))))})
          (else ${[...packSlabs(nv, get('bk'), get('pk')), set('pkb', get('pk'))].join('\n            ')}))
        ${packA.join('\n        ')}))
      ${set('i', get('i0'))}
      ${rowLoop(mr, rowBlock, 'iEnd')}
      ${set('accK', i32(1))}
      ${inc('k0', get('kc'))}
      (br_if $chunks (i32.lt_s ${get('k0')} ${get('K')})))
    ${set('i0', get('iEnd'))}
    (br_if $panels (i32.lt_s ${get('i0')} ${get('M')}))))`;
}

/**
 * Per-instance (so per-thread) pack buffer: address and size in bytes; 0 bytes turns packing off.
 * $prepacked, when set (by rnn_*_steps around their loops), is the matrix at $prepackedFrom
 * already in the packed layout (pack_b): NN products of that b that pack read their slabs there
 * instead of copying b again.
 */
function packBuffer(): string {
  return `
(global $pack (mut i32) (i32.const 0))
(global $packBytes (mut i32) (i32.const 0))
(global $prepacked (mut i32) (i32.const 0))
(global $prepackedFrom (mut i32) (i32.const 0)) ;; the b those slabs were packed from: only that b uses them
(func (export "set_pack_buffer") ${params(['ptr', 'bytes'])}
  (global.set $pack ${get('ptr')})
  (global.set $packBytes ${get('bytes')}))`;
}

/**
 * Copies the kc-step chunk of b at `from` (rows ldb bytes apart) into slabs at `into`: the slab
 * of columns [j, j + 4·nv) (whole slabs of N only) at into + j·kc·4, its step kk at + kk·16·nv
 * bytes, so a block's kc steps read consecutive bytes. Uses locals j, src, dst, kk.
 */
function packSlabs(nv: number, from: string, into: string): string[] {
  return [
    set('j', i32(0)),
    whileLoop(`(i32.le_s ${add32(get('j'), i32(nv * 4))} ${get('N')})`, [
      set('src', add32(from, mul32(get('j'), i32(4)))),
      set('dst', add32(into, mul32(mul32(get('j'), get('kc')), i32(4)))),
      set('kk', i32(0)),
      whileLoop(`(i32.lt_s ${get('kk')} ${get('kc')})`, [
        ...[...Array(nv).keys()].map((v) => `(v128.store offset=${16 * v} ${get('dst')} (v128.load offset=${16 * v} ${get('src')}))`),
        inc('src', get('ldb')), inc('dst', i32(nv * 16)), inc('kk', i32(1)),
      ]),
      inc('j', i32(nv * 4)),
    ]),
  ];
}

/**
 * out = b(K, N) in the layout a packing NN driver copies it to, for the whole of K at once:
 * chunk k0 (PACKED_K_CHUNK steps, fewer at the end) at out + k0·N8·4 (N8 = N rounded down to
 * whole slabs), laid out by packSlabs.
 */
function packWholeB(nv: number): string {
  return `
(func (export "pack_b") ${params(['out', 'b', 'K', 'N', 'ldb'])}
  (local $k0 i32) (local $kc i32) (local $j i32) (local $kk i32) (local $src i32) (local $dst i32) (local $n8 i32)
  ${set('n8', slabColumns(nv))}
  ${whileLoop(`(i32.lt_s ${get('k0')} ${get('K')})`, [
    set('kc', chunkLength(i32(PACKED_K_CHUNK))),
    ...packSlabs(nv, add32(get('b'), mul32(get('k0'), get('ldb'))), add32(get('out'), mul32(mul32(get('k0'), get('n8')), i32(4)))),
    inc('k0', get('kc')),
  ])})`;
}

function dotDriver(mr: number, nr: number): string {
  const oAt = add32(get('po'), mul32(get('j'), i32(4)));
  const bAt = add32(get('b'), mul32(get('j'), get('ldb')));
  const rowBlock = (rows: number): string[] => {
    const widths = rows === 1 ? [...new Set([SINGLE_ROW_DOT_COLS, nr, 1])] : [...new Set([nr, 1])];
    return [
      set('pa', add32(get('a'), mul32(get('i'), get('lda')))),
      set('po', add32(get('o'), mul32(get('i'), get('ldo')))),
      set('j', i32(0)),
      ...widths.map((w) => whileLoop(`(i32.le_s ${add32(get('j'), i32(w))} ${get('N')})`, [blockCall(`nt_${rows}x${w}`, oAt, get('pa'), get('lda'), bAt, get('ldb'), 'K', 'acc'), inc('j', i32(w))])),
    ];
  };
  return `
(func $gemm_nt_ld (export "gemm_nt_ld") ${DRIVER_PARAMS} ${DRIVER_LOCALS}
  ${rowLoop(mr, rowBlock)})`;
}

/** `fma`: multiply-adds as relaxed-SIMD f32x4.relaxed_madd (needs the relaxed-simd feature). */
export function gemmFunctions(blocking: GemmBlocking = DEFAULT_BLOCKING, fma = false): string {
  const vops = fma ? vectorFmaOps : vectorOps;
  const { outerRows: mr, outerVectors: nv, dotRows, dotCols, kChunk, mChunk } = blocking;
  const parts: string[] = [];
  for (const kind of ['nn', 'tn'] as const) {
    const widths = [...new Set([nv, 1, 0])];
    for (const rows of [...new Set([mr, 1])]) {
      const rowWidths = rows === 1 ? [...new Set([SINGLE_ROW_OUTER_VECTORS, ...widths])] : widths;
      for (const w of rowWidths) parts.push(outerBlock(kind, rows, w, vops));
    }
    parts.push(outerDriver(kind, mr, nv, kChunk, mChunk), denseWrapper(kind));
  }
  for (const rows of [...new Set([dotRows, 1])]) {
    const colWidths = rows === 1 ? [SINGLE_ROW_DOT_COLS, dotCols, 1] : [dotCols, 1];
    for (const cols of new Set(colWidths)) parts.push(dotBlock(rows, cols, vops));
  }
  parts.push(dotDriver(dotRows, dotCols), denseWrapper('nt'), packBuffer(), packWholeB(nv));
  return parts.join('\n');
}
