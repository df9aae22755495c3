/**
 * Deterministic randomness for the simulator. Everything random in a simulated cluster comes from
 * a generator seeded by the cluster's `seed`, so a seed replays the same run exactly.
 */

/** A source of numbers uniformly distributed in [0, 1). */
export type Rng = () => number;

/** mulberry32: a tiny 32-bit generator, good enough for simulation and fully reproducible. */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A 32-bit seed derived from a base seed and labels (FNV-1a), for independent streams. */
export function deriveSeed(seed: number, ...labels: (string | number)[]): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (const label of labels) {
    for (const ch of `${String(label)}\u0000`) {
      h ^= ch.charCodeAt(0);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return h;
}

/** An integer in [min, max] drawn from `rng`. */
export function randomInt(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}
