// Request bodies of the licensing and organization API: one zod schema each, used by the hub and the CLI.
import { z } from 'zod';

const codeList = z.union([z.string().min(1).max(20_000), z.array(z.string().min(1).max(60)).min(1).max(500)]);

export const OrgCreate = z.strictObject({ name: z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9 ._-]*$/) });
export const PortalUserCreate = z.strictObject({
  email: z.string().email().max(200),
  password: z.string().min(10).max(200),
  name: z.string().max(100).optional(),
  /** Vendor tokens only: the org the user belongs to (default: the caller's org). */
  orgId: z.string().max(100).optional(),
});
export const LicenceAdd = z.strictObject({ codes: codeList });
export const LicenceImport = z.strictObject({ file: z.string().min(1).max(2_000_000) });
export const LicenceServerRef = z.strictObject({ server: z.string().min(1).max(100) });
export const LicenceActivate = z.strictObject({ server: z.string().min(1).max(100), transfer: z.boolean().default(false) });
export const LicenceDeactivate = z.strictObject({ server: z.string().min(1).max(100).optional() });
export const ActivationKeyRequest = z.strictObject({
  code: z.string().min(1).max(60), requestCode: z.string().min(1).max(60), transfer: z.boolean().default(false),
});
export const ActivationFileRequest = z.strictObject({
  request: z.string().min(1).max(100_000), code: z.string().max(60).optional(), transfer: z.boolean().default(false),
});
export const AgentLicenceActivate = z.strictObject({ code: z.string().min(1).max(60), transfer: z.boolean().default(false) });
export const AgentLicenceClaim = z.strictObject({ key: z.string().min(1).max(60), requestCode: z.string().min(1).max(60) });
