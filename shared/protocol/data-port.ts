// Requests and answers on an agent's data port (source → target, peer to peer), one schema each: the target
// validates what it receives and the source validates what the target answers.
import { z } from 'zod';
import { ManifestEntry } from './ops';
import { MAX_BLOCK_SIZE, MIN_BLOCK_SIZE } from '../delta/block-size';

/**
 * What a target can do beyond the first protocol, named in its hello: a source uses a feature only when its target
 * names it (an older target would read a directory's names sent in parts as the whole listing, and delete the rest).
 */
export const TARGET_FEATURES = { dirNameParts: 'dir_name_parts' } as const;

/** `POST /v1/data/hello`: the target accepts this job token and epoch. */
export const HelloAnswer = z.object({
  ok: z.literal(true), jobId: z.string(), epoch: z.number().int(),
  features: z.array(z.string().max(100)).max(100).optional(),
});
export type HelloAnswer = z.infer<typeof HelloAnswer>;

/** `POST /v1/data/manifest`: one batch of the source's walk, and the directories whose listings it completes. */
export const ManifestRequest = z.object({
  mirrorId: z.string(),
  purpose: z.enum(['mirror', 'verify']),
  mode: z.enum(['all', 'different']),
  newerOnly: z.boolean(),
  blockChecksum: z.boolean(),
  orphans: z.object({ action: z.enum(['keep', 'delete', 'move']), moveTo: z.string().optional() }),
  entries: z.array(ManifestEntry).max(10_000),
  /**
   * Directories whose walk this batch completes, with the names the source has in each (what else the target has
   * there is an orphan). A large directory's names come in parts: each with `more` is held by the target until the
   * part without it, in a later request of the same mirror; such parts come alone, with no entries.
   */
  dirs: z.array(z.object({ path: z.string(), names: z.array(z.string()).max(1_000_000), more: z.literal(true).optional() })).max(10_000),
  /**
   * Files of at least this many bytes that need a block comparison are answered without their digests: the source
   * asks for them (`/v1/data/hashes`) and hashes its own copy meanwhile, so the two agents read and hash at once
   * instead of one after the other. A target that does not know the field answers with the digests inline.
   */
  deferHashesFrom: z.number().int().positive().optional(),
});
export type ManifestRequest = z.infer<typeof ManifestRequest>;

/** What the target needs for one manifest entry: nothing, metadata, the whole file, or the blocks that differ from its hashes. */
export const Need = z.discriminatedUnion('action', [
  z.object({ action: z.literal('skip'), reason: z.enum(['identical', 'target_newer']) }),
  z.object({ action: z.enum(['meta', 'whole', 'mkdir', 'symlink', 'hardlink']), reason: z.string() }),
  z.object({
    action: z.literal('blocks'), reason: z.string(),
    blockSize: z.number().int().min(MIN_BLOCK_SIZE).max(MAX_BLOCK_SIZE), fileSize: z.number().int().min(0),
    /** The target's block digests, concatenated, base64; absent when deferred (see `deferHashesFrom`). */
    digests: z.string().optional(),
  }),
]);
export type Need = z.infer<typeof Need>;

export const ManifestAnswer = z.object({
  /** One per request entry, in the same order. */
  needs: z.array(Need),
  orphans: z.object({ found: z.number(), removed: z.number(), moved: z.number(), kept: z.number(), paths: z.array(z.string()) }),
});
export type ManifestAnswer = z.infer<typeof ManifestAnswer>;

/** `POST /v1/data/hashes`: the target's block digests of one file, deferred from a manifest answer. */
export const BlockHashesRequest = z.object({
  path: z.string().max(4096),
  blockSize: z.number().int().min(MIN_BLOCK_SIZE).max(MAX_BLOCK_SIZE),
});
export type BlockHashesRequest = z.infer<typeof BlockHashesRequest>;

/** The digests of the target's copy as it is now (no file there: size 0, none). */
export const BlockHashesAnswer = z.object({ fileSize: z.number().int().min(0), digests: z.string() });
export type BlockHashesAnswer = z.infer<typeof BlockHashesAnswer>;

/** `POST /v1/data/apply`: one mirror batch applied and durable; refused paths were logged and not performed. */
export const ApplyAnswer = z.object({
  applied: z.number().int(),
  refused: z.array(z.object({ path: z.string(), code: z.string(), message: z.string() })),
  bytes: z.number(),
});
export type ApplyAnswer = z.infer<typeof ApplyAnswer>;

/** An operation the target cannot apply yet: nothing after it is applied until it succeeds. */
export const ReplicationBlock = z.object({ seq: z.number().int(), path: z.string(), code: z.string(), message: z.string(), since: z.number() });
export type ReplicationBlock = z.infer<typeof ReplicationBlock>;

/** At most this many paths are asked for again per replicate answer; the rest wait for the next one. */
export const RESEND_MAX_PATHS = 256;

/** `POST /v1/data/replicate`: how far the stream is durable on the target, and its one-time requests to the source. */
export const ReplicateAnswer = z.object({
  /** Highest sequence number durable on the target (applied, or held in its own disk queue). */
  ackedSeq: z.number().int().min(0),
  blocked: ReplicationBlock.nullable(),
  /** The target cannot vouch for its replica (it stopped mid-batch): the source runs a difference mirror. */
  remirror: z.string().optional(),
  /** Paths an operation found missing (a rename from where the mirror had not been yet): the source sends them again. */
  resend: z.array(z.string()).max(RESEND_MAX_PATHS).optional(),
});
export type ReplicateAnswer = z.infer<typeof ReplicateAnswer>;
