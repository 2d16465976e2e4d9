// The hub's public keys, cached on disk so job tokens can be verified while the hub is away.
import path from 'node:path';
import { z } from 'zod';
import type { JWK } from 'jose';
import { readJson, writeFileAtomic } from '../state-store';

const Keys = z.array(z.record(z.string(), z.unknown()));

export class HubKeyCache {
  private keys: JWK[] = [];
  private serialized = '';

  constructor(private dataDir: string) {}

  private get file() {
    return path.join(this.dataDir, 'hub-keys.json');
  }

  async load(): Promise<void> {
    this.keys = ((await readJson(this.file, Keys)) ?? []) as JWK[];
    this.serialized = JSON.stringify(this.keys);
  }

  async update(keys: JWK[]): Promise<void> {
    const s = JSON.stringify(keys);
    if (s === this.serialized) return;
    this.keys = keys;
    this.serialized = s;
    await writeFileAtomic(this.file, s);
  }

  get(): JWK[] {
    return this.keys;
  }
}
