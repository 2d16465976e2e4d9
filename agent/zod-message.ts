// One-line, operator-readable summary of a zod validation failure.
import type { ZodError } from 'zod';

/** `whole`: what to call the value itself when an issue is about all of it (not a field of it). */
export function zodMessageOf(err: ZodError, whole = 'value'): string {
  return err.issues.slice(0, 5).map((i) => `${i.path.join('.') || whole}: ${i.message}`).join('; ');
}
