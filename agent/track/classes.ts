// Kinds of object, by the COCO class names the bundled models use. A detector may call
// one object by two names of the same kind (a van is voted car, then truck, then car):
// its positions stay one path. A person on a bicycle or a motorcycle is one object with
// the two-wheeler (riders.ts), so those three classes are detected together.

/** Classes that name the same kind of object in turn. */
const GROUPS: readonly (readonly string[])[] = [['car', 'truck', 'bus'], ['bicycle', 'motorcycle'], ['person']];

/** Whether two class names are the same kind of object (the same name, or one group). */
export function sameGroup(a: string, b: string): boolean {
  return a === b || GROUPS.some((g) => g.includes(a) && g.includes(b));
}

export const TWO_WHEELERS: readonly string[] = ['bicycle', 'motorcycle'];
export const RIDER = 'person';

/**
 * The classes the detector must keep for CLASSES (empty: all): a rider is counted as its
 * two-wheeler and a walker as a person, so asking for either brings the other's boxes too.
 * CLASSES then filters the tracked objects by the class they are reported as.
 */
export function detectedClasses(classes: readonly string[]): string[] {
  if (!classes.length) return [];
  const riders = [RIDER, ...TWO_WHEELERS];
  return classes.some((c) => riders.includes(c)) ? [...new Set([...classes, ...riders])] : [...classes];
}
