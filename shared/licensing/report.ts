// What an agent reports about its licence in every poll (`state.licence`): its current host identity and size,
// and the licence files it holds. The hub compares the identity with the activation to detect a host mismatch.
import { z } from 'zod';

export const AgentLicenceReport = z.object({
  hostFingerprint: z.string().regex(/^[0-9a-f]{16}$/),
  hostname: z.string().max(255),
  cpus: z.number().int().min(0).nullable().optional(),
  memoryMB: z.number().int().min(0).nullable().optional(),
  /** Serial labels of verified licence files installed on the host, with their expiry (ms). */
  files: z.array(z.object({ serial: z.string(), exp: z.number(), status: z.string() })).max(100).default([]),
});
export type AgentLicenceReport = z.infer<typeof AgentLicenceReport>;

export function readAgentLicenceReport(state: unknown): AgentLicenceReport | null {
  const r = AgentLicenceReport.safeParse((state as { licence?: unknown } | null)?.licence);
  return r.success ? r.data : null;
}
