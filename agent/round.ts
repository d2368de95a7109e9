/** `v` rounded to `digits` decimal places, as every payload carries its numbers. */
export const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;
