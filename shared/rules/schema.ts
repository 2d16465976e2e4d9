// The replication-set rule as stored on a job (manual 2.5): an ordered list of include/exclude
// rules on absolute paths that may contain wildcards.
import { z } from 'zod';
import { AbsolutePathSchema } from '../paths/absolute-path';

export const RuleSchema = z.object({
  /** Absolute POSIX path; segments may use picomatch globs (`*`, `?`, `[a-z]`, `{a,b}`, whole-segment `**`). */
  path: AbsolutePathSchema,
  type: z.enum(['include', 'exclude']),
  /** Recursive rules also cover everything below the matched directory; defaults to true like the manual's Add Rule. */
  recursive: z.boolean().default(true),
});
export type Rule = z.infer<typeof RuleSchema>;
export type RuleInput = z.input<typeof RuleSchema>;

export const RulesSchema = z.array(RuleSchema).max(10_000);
