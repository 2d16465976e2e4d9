// Failover identity (manual 2.9): move the source's addresses onto the target (`ip addr add` + gratuitous ARP),
// release them at failback (`ip addr del`), and call the job's DNS hook. Never touches an address not configured.
import { isIPv4 } from 'node:net';
import { request } from 'undici';
import { MovedAddressSchema } from '../../shared/jobs/failover-settings';
import { firstLine, runCommand as defaultRunCommand, type CommandResult, type RunCommand } from './command';
import { errorText, guardStep, lastBytes, OUTPUT_TAIL_BYTES, type StepResult } from './step-result';

export interface MovedAddress {
  cidr: string;
  device: string;
}

export interface IdentityOptions {
  runCommand?: RunCommand;
  /** Per `ip` call; default 10 s. */
  timeoutMs?: number;
  /** Send gratuitous ARP for IPv4 addresses after adding them; default true. */
  gratuitousArp?: boolean;
  /** ARP announcements per address; default 3. */
  arpCount?: number;
}

export type IpFailure = 'missing' | 'not_permitted' | 'no_device' | 'exists' | 'absent' | 'timeout' | 'other';

/** Classifies a failed `ip addr add|del` by iproute2's (C-locale) message. */
export function classifyIpFailure(result: CommandResult): IpFailure {
  if (result.missing) return 'missing';
  if (result.timedOut) return 'timeout';
  const text = result.stderr + result.stdout;
  if (/Operation not permitted|Permission denied/i.test(text)) return 'not_permitted';
  if (/Cannot find device|does not exist/i.test(text)) return 'no_device';
  if (/File exists/i.test(text)) return 'exists';
  if (/Cannot assign requested address/i.test(text)) return 'absent';
  return 'other';
}

const fixMissing = (instead: string) =>
  `the "ip" command (iproute2) is not installed on this host; install iproute2, or ${instead}`;
const fixPermission = (instead: string) =>
  'the agent may not change network addresses; run it as root or grant CAP_NET_ADMIN and CAP_NET_RAW ' +
  `(AmbientCapabilities= in its systemd unit), or ${instead}`;
const MOVE_INSTEAD = 'add the addresses in the post-failover script';
const RELEASE_INSTEAD = 'remove the addresses in the pre-failback script';

export const addressOf = (cidr: string) => cidr.split('/')[0]!;

function invalid(address: MovedAddress): string | null {
  const parsed = MovedAddressSchema.safeParse(address);
  return parsed.success ? null : `${JSON.stringify(address)} is not a valid {cidr, device} (${parsed.error.issues[0]?.message ?? 'invalid'})`;
}

/**
 * Adds each address to its device. An address already there counts as moved (idempotent), then IPv4 neighbours
 * are told with gratuitous ARP where arping is installed (best effort: failure there is noted, not fatal).
 */
export function moveAddressesIn(addresses: readonly MovedAddress[], opts: IdentityOptions = {}): Promise<StepResult> {
  return guardStep('identity.moveAddresses', async (timer) => {
    if (addresses.length === 0) return timer.skip('No addresses are configured to move to this host.');
    const run = opts.runCommand ?? defaultRunCommand;
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const moved: MovedAddress[] = [];
    const notes: string[] = [];
    const failures: string[] = [];
    const output: string[] = [];
    for (const address of addresses) {
      const bad = invalid(address);
      if (bad) { failures.push(bad); continue; }
      const result = await run('ip', ['addr', 'add', address.cidr, 'dev', address.device], { timeoutMs });
      if (result.stderr.trim()) output.push(`ip addr add ${address.cidr} dev ${address.device}: ${result.stderr.trim()}`);
      if (result.code === 0) { moved.push(address); notes.push(`Added ${address.cidr} to ${address.device}`); continue; }
      const kind = classifyIpFailure(result);
      if (kind === 'exists') { moved.push(address); notes.push(`${address.cidr} was already on ${address.device}`); continue; }
      if (kind === 'missing' || kind === 'not_permitted') {
        // Every other address would fail the same way.
        const fix = kind === 'missing' ? fixMissing(MOVE_INSTEAD) : fixPermission(MOVE_INSTEAD);
        return timer.fail(summary(notes, [`Could not add ${address.cidr} to ${address.device}: ${fix}`]), output.join('\n') || undefined);
      }
      failures.push(
        kind === 'no_device'
          ? `Could not add ${address.cidr}: device ${address.device} does not exist on this host; fix failover.identity.addresses`
          : `Could not add ${address.cidr} to ${address.device} (${firstLine(result.stderr) || `exit ${result.code}`})`,
      );
    }
    if (moved.length > 0 && opts.gratuitousArp !== false) {
      notes.push(...(await announce(moved, run, opts.arpCount ?? 3, output)));
    }
    const detail = summary(notes, failures);
    return failures.length === 0 ? timer.ok(detail, output.join('\n') || undefined) : timer.fail(detail, output.join('\n') || undefined);
  });
}

/** Gratuitous ARP for the IPv4 addresses, in parallel (each takes about arpCount seconds). Returns notes. */
async function announce(moved: MovedAddress[], run: RunCommand, count: number, output: string[]): Promise<string[]> {
  const notes: string[] = [];
  const v4 = moved.filter((a) => isIPv4(addressOf(a.cidr)));
  if (v4.length < moved.length) {
    notes.push('No unsolicited neighbour advertisement is sent for IPv6 addresses; neighbours re-resolve them through NDP');
  }
  if (v4.length === 0) return notes;
  const results = await Promise.all(
    v4.map((a) => run('arping', ['-U', '-c', String(count), '-I', a.device, addressOf(a.cidr)], { timeoutMs: (count + 5) * 1000 })),
  );
  if (results.some((r) => r.missing)) {
    notes.push(
      'arping is not installed (package iputils-arping), so no gratuitous ARP was sent; ' +
        'neighbours will use the new location once their ARP entries expire, usually within a minute',
    );
    return notes;
  }
  const failed = v4.filter((_, i) => results[i]!.code !== 0);
  results.forEach((r, i) => { if (r.code !== 0) output.push(`arping ${addressOf(v4[i]!.cidr)}: ${(r.stderr || r.stdout).trim()}`); });
  const sent = v4.filter((_, i) => results[i]!.code === 0);
  if (sent.length) notes.push(`Announced ${sent.map((a) => addressOf(a.cidr)).join(', ')} with gratuitous ARP`);
  if (failed.length) {
    notes.push(`Gratuitous ARP failed for ${failed.map((a) => addressOf(a.cidr)).join(', ')}; neighbours will update when their ARP entries expire`);
  }
  return notes;
}

/** Removes each address from its device; an address that is not there counts as released. Tries all. */
export function releaseAddresses(addresses: readonly MovedAddress[], opts: IdentityOptions = {}): Promise<StepResult> {
  return guardStep('identity.releaseAddresses', async (timer) => {
    if (addresses.length === 0) return timer.skip('No moved addresses to release on this host.');
    const run = opts.runCommand ?? defaultRunCommand;
    const notes: string[] = [];
    const failures: string[] = [];
    const output: string[] = [];
    for (const address of addresses) {
      const bad = invalid(address);
      if (bad) { failures.push(bad); continue; }
      const result = await run('ip', ['addr', 'del', address.cidr, 'dev', address.device], { timeoutMs: opts.timeoutMs ?? 10_000 });
      if (result.stderr.trim()) output.push(`ip addr del ${address.cidr} dev ${address.device}: ${result.stderr.trim()}`);
      if (result.code === 0) { notes.push(`Removed ${address.cidr} from ${address.device}`); continue; }
      const kind = classifyIpFailure(result);
      if (kind === 'absent' || kind === 'no_device') { notes.push(`${address.cidr} was not on ${address.device}`); continue; }
      if (kind === 'missing' || kind === 'not_permitted') {
        const fix = kind === 'missing' ? fixMissing(RELEASE_INSTEAD) : fixPermission(RELEASE_INSTEAD);
        return timer.fail(summary(notes, [`Could not remove ${address.cidr} from ${address.device}: ${fix}`]), output.join('\n') || undefined);
      }
      failures.push(`Could not remove ${address.cidr} from ${address.device} (${firstLine(result.stderr) || `exit ${result.code}`})`);
    }
    const detail = summary(notes, failures);
    return failures.length === 0 ? timer.ok(detail, output.join('\n') || undefined) : timer.fail(detail, output.join('\n') || undefined);
  });
}

function summary(notes: string[], failures: string[]): string {
  // Sentences may start with a command name ("arping …"), so they are not capitalised here.
  return [...failures, ...notes].map((s) => s + '.').join(' ');
}

export interface DnsHook {
  url: string;
  ttlSec: number;
}

export interface DnsHookOptions {
  /** Default 10 s for the whole exchange. */
  timeoutMs?: number;
}

/** The hook URL without credentials, query or fragment: those often carry an API key. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/**
 * POSTs `{...payload, ttlSec}` as JSON to the job's DNS hook (a provider API or an RFC 2136 gateway the operator
 * runs). Suggested payload: {event: "failover"|"failback", jobId, jobName, addresses: [...]}. Any 2xx is success.
 */
export function runDnsHook(hook: DnsHook, payload: Record<string, unknown>, opts: DnsHookOptions = {}): Promise<StepResult> {
  return guardStep('identity.dnsHook', async (timer) => {
    const shown = redactUrl(hook.url);
    const timeoutMs = opts.timeoutMs ?? 10_000;
    const body = JSON.stringify({ ...payload, ttlSec: hook.ttlSec });
    try {
      const response = await request(hook.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'tandem-agent' },
        body,
        signal: AbortSignal.timeout(timeoutMs),
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      });
      const text = lastBytes(await response.body.text(), OUTPUT_TAIL_BYTES);
      if (response.statusCode >= 200 && response.statusCode < 300) {
        return timer.ok(`The DNS hook ${shown} accepted the update (HTTP ${response.statusCode}).`, text || undefined);
      }
      return timer.fail(
        `The DNS hook ${shown} answered HTTP ${response.statusCode}; the DNS records were probably not updated. Check the hook's log, then update DNS by hand or retry.`,
        text || undefined,
      );
    } catch (err) {
      const name = (err as Error).name;
      const timedOut = name === 'TimeoutError' || name === 'AbortError' || /timeout/i.test((err as Error).message ?? '');
      return timer.fail(
        timedOut
          ? `The DNS hook ${shown} did not answer within ${timeoutMs / 1000} s; the DNS records may not be updated. Check the hook, then update DNS by hand or retry.`
          : `The DNS hook ${shown} could not be reached (${errorText(err)}); check the URL and that the target can reach it.`,
      );
    }
  });
}
