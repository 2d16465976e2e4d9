// Which jobs use a server: a server in use cannot be removed.
import type { HubDeps } from '../deps';

export async function jobsUsingServer(_deps: HubDeps, _serverId: string): Promise<string[]> {
  return [];
}
