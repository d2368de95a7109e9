// Minimum-cost assignment of tracks to detections (the Hungarian method, in the
// shortest-augmenting-path form of Jonker and Volgenant), as ByteTrack, OC-SORT and
// BoT-SORT solve each association pass. Greedy matching on sorted costs lets one early
// cheap pair steal the detection that a second track needs when two objects pass each
// other; the optimum does not. Pairs whose cost is not finite are never matched.
//
// With a cost limit, leaving a track and a detection unmatched is allowed and costs the
// limit (half for each side, as ByteTrack's lapjv with cost_limit): the solver then takes
// one cheap pair and a new track over two dear pairs that swap two objects' identities.

/** Finite stand-in for a forbidden pair inside the solver: larger than any sum of real costs. */
const FORBIDDEN = 1e9;

/**
 * The pairs [row, column] that minimise the total cost; `cost[r][c]` is the cost of
 * matching row r with column c (Infinity: never). Rows and columns may differ in number.
 * With a finite `limit`, a row or column may stay unmatched at half the limit each, so
 * no pair costing more than the limit is ever taken.
 */
export function assign(cost: readonly (readonly number[])[], columns: number, limit = Infinity): [number, number][] {
  if (!cost.length || !columns) return [];
  if (Number.isFinite(limit)) return withLimit(cost, columns, limit);
  return solve(cost, columns);
}

/** The square problem of rows + columns: real pairs top left, "unmatched" at limit/2 beside and below, dummy pairs at 0. */
function withLimit(cost: readonly (readonly number[])[], columns: number, limit: number): [number, number][] {
  const rows = cost.length;
  const n = rows + columns;
  const half = limit / 2;
  const square = Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => {
      if (i < rows && j < columns) return cost[i]![j]! <= limit ? cost[i]![j]! : Infinity;
      return i < rows || j < columns ? half : 0;
    }),
  );
  return solve(square, n).filter(([i, j]) => i < rows && j < columns);
}

function solve(cost: readonly (readonly number[])[], columns: number): [number, number][] {
  const rows = cost.length;
  // The solver wants rows ≤ columns: solve the transpose otherwise.
  const transpose = rows > columns;
  const n = transpose ? columns : rows;
  const m = transpose ? rows : columns;
  const at = (i: number, j: number) => {
    const c = transpose ? cost[j]![i]! : cost[i]![j]!;
    return Number.isFinite(c) ? c : FORBIDDEN;
  };
  // Potentials u (rows) and v (columns), 1-based with a virtual column 0; p[j]: row matched to column j.
  const u = new Float64Array(n + 1);
  const v = new Float64Array(m + 1);
  const p = new Int32Array(m + 1);
  const way = new Int32Array(m + 1);
  const minv = new Float64Array(m + 1);
  const used = new Uint8Array(m + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    minv.fill(Infinity);
    used.fill(0);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      let delta = Infinity;
      let j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = at(i0 - 1, j - 1) - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) {
          u[p[j]!] = u[p[j]!]! + delta;
          v[j] = v[j]! - delta;
        } else minv[j] = minv[j]! - delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0);
  }
  const out: [number, number][] = [];
  for (let j = 1; j <= m; j++) {
    const i = p[j]!;
    if (!i || at(i - 1, j - 1) >= FORBIDDEN) continue;
    out.push(transpose ? [j - 1, i - 1] : [i - 1, j - 1]);
  }
  return out;
}
