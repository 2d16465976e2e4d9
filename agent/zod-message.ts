// One-line, operator-readable summary of a zod validation failure.
import type { ZodError } from 'zod';

export function zodMessageOf(err: ZodError): string {
  return err.issues.slice(0, 5).map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ');
}
