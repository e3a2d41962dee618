/** Orders Redis stream ids (`<ms>-<seq>`) numerically; '0-0' sorts first. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-');
  const [bm, bs] = b.split('-');
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as ?? '0') - BigInt(bs ?? '0');
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}
