// Data-port routes of the target side: hello (epoch check), manifest exchange (and deferred block hashes), the apply
// and replicate streams.
import type { IncomingMessage } from 'node:http';
import { TandemError } from '../../shared/errors';
import { sendJson, type DataServer } from '../data-server';
import type { TargetJob } from './target-job';
import { TARGET_FEATURES, type HelloAnswer } from '../../shared/protocol/data-port';

/** Largest JSON body (a manifest batch) accepted on the data port. */
export const MAX_JSON_BYTES = 32 * 1024 * 1024;

async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_JSON_BYTES) throw new TandemError('payload_too_large', `JSON bodies on the data port are limited to ${MAX_JSON_BYTES} bytes.`, 413);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new TandemError('invalid_json', 'The body is not valid JSON.', 400);
  }
}

export function registerTargetRoutes(data: DataServer, lookup: (jobId: string) => TargetJob | undefined): void {
  const jobFor = async (req: IncomingMessage, params: URLSearchParams) => {
    const id = params.get('job') ?? '';
    const job = lookup(id);
    if (!job) throw new TandemError('job_unknown', `This agent is not the target of job "${id.slice(0, 100)}" (yet); retry after its next poll.`, 404);
    await job.authorize(req);
    return job;
  };
  data.route('POST', '/v1/data/hello', async (req, res, params) => {
    const job = await jobFor(req, params);
    req.resume();
    sendJson(res, 200, { ok: true, jobId: job.jobId, epoch: job.epoch, features: [TARGET_FEATURES.dirNameParts] } satisfies HelloAnswer);
  });
  data.route('POST', '/v1/data/manifest', async (req, res, params) => {
    const job = await jobFor(req, params);
    sendJson(res, 200, await job.manifest(await readJsonBody(req)));
  });
  data.route('POST', '/v1/data/hashes', async (req, res, params) => {
    const job = await jobFor(req, params);
    sendJson(res, 200, await job.blockHashes(await readJsonBody(req)));
  });
  data.route('POST', '/v1/data/replicate', async (req, res, params) => {
    const job = await jobFor(req, params);
    sendJson(res, 200, await job.replicate(req));
  });
  data.route('POST', '/v1/data/apply', async (req, res, params) => {
    const job = await jobFor(req, params);
    sendJson(res, 200, await job.apply(req));
  });
}
