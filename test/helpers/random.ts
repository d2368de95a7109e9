// A seeded random source for fuzz tests: the seed is printed, and FUZZ_SEED=<seed>
// replays a failing run exactly.

/** mulberry32: a small, fast 32-bit generator; plenty for choosing test inputs. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of this run: FUZZ_SEED when set, else a fresh one. */
export function fuzzSeed(): number {
  const given = process.env.FUZZ_SEED;
  return given ? Number(given) : Math.floor(Math.random() * 2 ** 32);
}

/** `n` random bytes from `random`, as hex. */
export const randomHex = (random: () => number, n: number) =>
  Array.from({ length: n }, () =>
    Math.floor(random() * 256)
      .toString(16)
      .padStart(2, '0'),
  ).join('');
