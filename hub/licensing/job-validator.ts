// Adapter from licensing's job issues to the jobs module's validator hook (hub/jobs/validate.ts addJobValidator).
import type { JobValidator } from '../jobs/validate';
import { licenceIssuesForJob } from './enforce';

export const licenceJobValidator: JobValidator = async (deps, orgId, ctx) =>
  licenceIssuesForJob(deps, orgId, { sourceServerId: ctx.source.id, targetServerId: ctx.target.id, jobType: 'files' });
