// The host's side of licensing, on disk in <agent data dir>/licence: activation requests, entered activation keys,
// installed licence files (verified offline with the hub's public keys) and the host identity they bind to.
import { readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { JWK } from 'jose';
import { TandemError } from '../../shared/errors';
import {
  hostFingerprint, makeRequestCode, readRequestCode, checkKeyMatchesRequest, verifyLicenceFile, peekLicenceFile,
  formatCode, normalizeCode, serialLabel, licenceRefusal, type LicenceClaims, type Operation, type ActivationRequestFile,
  type AgentLicenceReport, type LicenceStatus,
} from '../../shared/licensing';
import { TANDEM_VERSION } from '../../shared/version';
import { readMachineId } from '../identity';
import { readJson, writeFileAtomic } from '../state-store';

export const licenceDir = (dataDir: string) => path.join(dataDir, 'licence');
const jwksFile = (d: string) => path.join(licenceDir(d), 'hub-jwks.json');
const requestFile = (d: string) => path.join(licenceDir(d), 'request.json');
const keysFile = (d: string) => path.join(licenceDir(d), 'keys.json');
const filesDir = (d: string) => path.join(licenceDir(d), 'files');

export interface HostIdentity { machineId: string; hostname: string; fingerprint: string; cpus: number; memoryMB: number }

export async function currentHost(): Promise<HostIdentity> {
  const machineId = await readMachineId();
  const hostname = os.hostname();
  return {
    machineId, hostname, fingerprint: await hostFingerprint(machineId, hostname),
    cpus: os.cpus().length, memoryMB: Math.round(os.totalmem() / 1048576),
  };
}

// --- Hub public keys ---------------------------------------------------------------------------------------------
const Jwks = z.array(z.record(z.string(), z.unknown()));
export async function saveHubJwks(dataDir: string, keys: JWK[]) {
  await writeFileAtomic(jwksFile(dataDir), JSON.stringify(keys.map(({ d: _d, ...pub }) => pub), null, 2), 0o644);
}
export async function loadHubJwks(dataDir: string): Promise<JWK[]> {
  return ((await readJson(jwksFile(dataDir), Jwks)) ?? []) as JWK[];
}

// --- Activation requests -----------------------------------------------------------------------------------------
const PendingRequest = z.object({ requestCode: z.string(), host: z.string(), createdAt: z.string() });

/** Writes a fresh activation request for this host (`tandem license request`); any older one is superseded. */
export async function createActivationRequest(dataDir: string, host: HostIdentity, opts: { serverId?: string | null; codes?: string[]; now?: number } = {}) {
  const requestCode = makeRequestCode(host.fingerprint);
  const createdAt = new Date(opts.now ?? Date.now()).toISOString();
  await writeFileAtomic(requestFile(dataDir), JSON.stringify({ requestCode, host: host.fingerprint, createdAt }, null, 2));
  const file: ActivationRequestFile = {
    kind: 'tandem-activation-request', v: 1, requestCode, hostname: host.hostname, serverId: opts.serverId ?? null,
    agentVersion: TANDEM_VERSION, createdAt, codes: (opts.codes ?? []).map(formatCode),
  };
  return { requestCode: formatCode(requestCode), file };
}

export async function pendingRequest(dataDir: string) {
  return readJson(requestFile(dataDir), PendingRequest);
}

// --- Activation keys ---------------------------------------------------------------------------------------------
const EnteredKeys = z.array(z.object({ key: z.string(), requestCode: z.string(), serial: z.string(), enteredAt: z.string() }));
export type EnteredKey = z.infer<typeof EnteredKeys>[number];

/**
 * `tandem license activate --key`: checks the key's checksum and that it answers this host's outstanding request
 * (no secret needed), then keeps it until the agent exchanges it with the hub for the signed licence file.
 */
export async function enterActivationKey(dataDir: string, host: HostIdentity, key: string): Promise<EnteredKey> {
  const req = await pendingRequest(dataDir);
  if (!req) throw new TandemError('activation_request_missing', 'This host has no activation request. Run `tandem license request` first and enter the key made for that request code.');
  if (req.host !== host.fingerprint) {
    throw new TandemError('activation_key_wrong_host', 'The host identity changed (hostname or machine id) since the request was made. Run `tandem license request` again.');
  }
  const k = await checkKeyMatchesRequest(key, readRequestCode(req.requestCode));
  const entry = { key: normalizeCode(key), requestCode: req.requestCode, serial: serialLabel(k.serial), enteredAt: new Date().toISOString() };
  const all = ((await readJson(keysFile(dataDir), EnteredKeys)) ?? []).filter((e) => e.key !== entry.key);
  await writeFileAtomic(keysFile(dataDir), JSON.stringify([...all, entry], null, 2));
  return entry;
}

export async function enteredKeys(dataDir: string): Promise<EnteredKey[]> {
  return (await readJson(keysFile(dataDir), EnteredKeys)) ?? [];
}
export async function forgetKey(dataDir: string, key: string) {
  const rest = (await enteredKeys(dataDir)).filter((e) => e.key !== normalizeCode(key));
  await writeFileAtomic(keysFile(dataDir), JSON.stringify(rest, null, 2));
}

// --- Licence files -----------------------------------------------------------------------------------------------

/** Verifies a licence file offline (hub keys on disk, this host's identity) and installs it under its serial. */
export async function installLicenceFile(dataDir: string, host: HostIdentity, text: string, now = Date.now(), jwks?: JWK[]): Promise<LicenceClaims> {
  const keys = jwks ?? (await loadHubJwks(dataDir));
  if (!keys.length) {
    throw new TandemError('hub_keys_missing', 'This host does not have the hub\'s public key yet: start the agent once while the hub is reachable, or pass --hub-keys <jwks.json> (from <hub>/.well-known/jwks.json).');
  }
  const claims = await verifyLicenceFile(text, keys, { now, hostFingerprint: host.fingerprint });
  await writeFileAtomic(path.join(filesDir(dataDir), `${claims.sub}.lic`), text.endsWith('\n') ? text : `${text}\n`, 0o644);
  return claims;
}

export async function removeLicenceFile(dataDir: string, serial: string): Promise<boolean> {
  const f = path.join(filesDir(dataDir), `${serial.replace(/[^A-Za-z0-9-]/g, '')}.lic`);
  try {
    await readFile(f);
  } catch {
    return false;
  }
  await rm(f, { force: true });
  return true;
}

export interface InstalledLicence {
  serial: string;
  status: 'valid' | 'expired' | 'wrong_host' | 'invalid';
  message: string;
  claims: LicenceClaims | null;
  file: string;
}

/** Every installed file, re-verified now: a copied, edited or lapsed file shows as such. */
export async function installedLicences(dataDir: string, host: HostIdentity, now = Date.now()): Promise<InstalledLicence[]> {
  let names: string[] = [];
  try {
    names = (await readdir(filesDir(dataDir))).filter((n) => n.endsWith('.lic')).sort();
  } catch {
    return [];
  }
  const keys = await loadHubJwks(dataDir);
  const out: InstalledLicence[] = [];
  for (const n of names) {
    const file = path.join(filesDir(dataDir), n);
    const text = await readFile(file, 'utf8');
    try {
      const claims = await verifyLicenceFile(text, keys, { now, hostFingerprint: host.fingerprint });
      out.push({ serial: claims.sub, status: 'valid', message: 'Valid.', claims, file });
    } catch (err) {
      const e = err as TandemError;
      const status = e.code === 'licence_file_expired' ? 'expired' : e.code === 'licence_file_wrong_host' ? 'wrong_host' : 'invalid';
      out.push({ serial: n.replace(/\.lic$/, ''), status, message: e.message, claims: peekLicenceFile(text), file });
    }
  }
  return out;
}

/** The local licence verdict for an operation: recovery is always allowed; new protection needs a valid file. */
export function localRefusal(op: Operation, installed: InstalledLicence[]) {
  const valid = installed.find((l) => l.status === 'valid');
  let status: LicenceStatus | null = null;
  if (valid) status = { health: 'ok', code: 'licence_ok', message: 'Valid licence file.', daysLeft: null };
  else if (installed.length) {
    const first = installed[0]!;
    status = { health: 'error', code: first.status === 'wrong_host' ? 'licence_host_mismatch' : `licence_file_${first.status}`, message: first.message, daysLeft: null };
  }
  return licenceRefusal(op, status);
}

export function reportFor(host: HostIdentity, installed: InstalledLicence[]): AgentLicenceReport {
  return {
    hostFingerprint: host.fingerprint, hostname: host.hostname, cpus: host.cpus, memoryMB: host.memoryMB,
    files: installed.map((l) => ({ serial: l.serial, exp: (l.claims?.exp ?? 0) * 1000, status: l.status })),
  };
}
