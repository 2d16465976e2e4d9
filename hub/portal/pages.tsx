// The portal's pages as server-rendered components: sign-in, licence inventory, activate a host, key issued, hosts.
import type { FC } from 'hono/jsx';
import type { InventoryRow } from '../licensing/store';
import { Badge, Layout, Notice } from './layout';

export interface PageCtx { user: { email: string }; csrf: string; orgName: string }
type Msg = { ok?: string; error?: string; errorCode?: string };

const Csrf: FC<{ v: string }> = ({ v }) => <input type="hidden" name="_csrf" value={v} />;
const Messages: FC<{ m: Msg }> = ({ m }) => (
  <>
    {m.ok && <Notice kind="ok">{m.ok}</Notice>}
    {m.error && <Notice kind="error"><strong>{m.errorCode ? `${m.errorCode}: ` : ''}</strong>{m.error}</Notice>}
  </>
);
const healthLabel = { ok: 'OK', warning: 'Warning', error: 'Error' } as const;
const stateLabel = { available: 'Available', applied: 'Applied', activated: 'Activated', seats: 'Seat pool' } as const;

export const LoginPage: FC<{ csrf: string; email?: string; error?: string }> = (p) => (
  <Layout title="Sign in">
    <div class="login">
      <h1>Sign in</h1>
      <p class="lede">Manage your Tandem licences: activate, deactivate and transfer hosts, online or offline.</p>
      {p.error && <Notice kind="error">{p.error}</Notice>}
      <form class="card" method="post" action="/portal/login">
        <input type="hidden" name="_csrf" value={p.csrf} />
        <div class="field">
          <label for="email">E-mail</label>
          <input id="email" name="email" type="email" autocomplete="username" required value={p.email ?? ''} />
        </div>
        <div class="field">
          <label for="password">Password</label>
          <input id="password" name="password" type="password" autocomplete="current-password" required />
        </div>
        <button type="submit">Sign in</button>
      </form>
    </div>
  </Layout>
);

export const LicencesPage: FC<{ ctx: PageCtx; rows: InventoryRow[]; msg?: Msg; codesText?: string }> = ({ ctx, rows, msg = {}, codesText }) => {
  const codes = new Set(rows.map((r) => r.code)).size;
  const activated = rows.filter((r) => r.state === 'activated').length;
  const warnings = rows.filter((r) => r.health === 'warning').length;
  const errors = rows.filter((r) => r.health === 'error').length;
  return (
    <Layout title="Licences" section="licences" user={ctx.user} csrf={ctx.csrf}>
      <h1>Licences</h1>
      <p class="lede">The licence inventory of {ctx.orgName}. A code used by several servers shows one row per server.</p>
      <Messages m={msg} />
      <div class="stats">
        <div class="stat"><b>{codes}</b><span>codes in the inventory</span></div>
        <div class="stat"><b>{activated}</b><span>activated hosts</span></div>
        <div class="stat"><b>{warnings}</b><span>warnings</span></div>
        <div class="stat"><b>{errors}</b><span>errors</span></div>
      </div>
      <section class="card" aria-labelledby="inv-h">
        <h2 id="inv-h">Inventory</h2>
        {rows.length === 0 ? <p class="empty">No licence codes yet. Add the codes your vendor sent you below.</p> : (
          <table>
            <caption>Status, code, type and the server each licence is on.</caption>
            <thead><tr><th scope="col">Status</th><th scope="col">Serial / code</th><th scope="col">Type</th><th scope="col">Edition</th><th scope="col">Server</th><th scope="col">State</th><th scope="col"><span class="skip">Actions</span></th></tr></thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  <td><Badge health={r.health}>{healthLabel[r.health]}</Badge><span class="detail">{r.message}</span></td>
                  <td><strong>{r.serial}</strong><span class="detail mono">{r.code}</span></td>
                  <td>{r.typeDescription}{r.type === 'single' && <span class="detail">{r.hostTransfersLeft} of 2 host transfers left</span>}</td>
                  <td>{r.edition[0]!.toUpperCase() + r.edition.slice(1)}</td>
                  <td>{r.server ? r.server.name : r.hostname ?? '—'}{r.hostname && r.server && <span class="detail">{r.hostname}</span>}</td>
                  <td><Badge health={r.state === 'activated' ? 'ok' : 'muted'}>{stateLabel[r.state]}</Badge>{r.activationMethod && <span class="detail">by {r.activationMethod}</span>}</td>
                  <td><div class="row-actions">
                    {r.assignmentId && (
                      <form method="post" action="/portal/licences/deactivate" class="inline">
                        <Csrf v={ctx.csrf} /><input type="hidden" name="assignment" value={r.assignmentId} />
                        <button class="danger" type="submit" aria-label={`Deactivate ${r.serial} on ${r.server?.name ?? r.hostname ?? 'host'}`}>Deactivate</button>
                      </form>
                    )}
                    {!r.assignmentId && r.state !== 'seats' && (
                      <form method="post" action="/portal/licences/remove" class="inline">
                        <Csrf v={ctx.csrf} /><input type="hidden" name="code" value={r.code} />
                        <button class="danger" type="submit" aria-label={`Remove ${r.serial} from the inventory`}>Remove</button>
                      </form>
                    )}
                  </div></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <div class="grid">
        <section class="card" aria-labelledby="add-h">
          <h2 id="add-h">Add licence codes</h2>
          <form method="post" action="/portal/licences/add">
            <Csrf v={ctx.csrf} />
            <div class="field">
              <label for="codes">Licence codes</label>
              <textarea id="codes" name="codes" aria-describedby="codes-hint" required>{codesText ?? ''}</textarea>
              <p class="hint" id="codes-hint">24 letters and digits each, with or without dashes. Separate several with commas or new lines.</p>
            </div>
            <button type="submit">Add codes</button>
          </form>
        </section>
        <section class="card" aria-labelledby="io-h">
          <h2 id="io-h">Export</h2>
          <p class="hint">Download every code as an inventory file, for backup or to import with <code>tandem license import</code>.</p>
          <p><a class="btn" href="/portal/licences/export" download>Download inventory file</a></p>
        </section>
      </div>
    </Layout>
  );
};

export interface ActivateForm { code?: string; requestCode?: string; transfer?: boolean; fileCode?: string }

export const ActivatePage: FC<{ ctx: PageCtx; codes: Array<{ code: string; label: string }>; msg?: Msg; form?: ActivateForm; offerTransfer?: string }> = ({ ctx, codes, msg = {}, form = {}, offerTransfer }) => (
  <Layout title="Activate a host" section="activate" user={ctx.user} csrf={ctx.csrf}>
    <h1>Activate a host</h1>
    <p class="lede">Bind a licence to one host. Use the request code when you can type on the host, or the request file for a host with no network.</p>
    <Messages m={msg} />
    <div class="grid">
      <section class="card" aria-labelledby="key-h">
        <h2 id="key-h">With a request code</h2>
        <p class="hint">On the host, run <code>tandem license request</code> and copy the code it shows. You get an activation key to type with <code>tandem license activate --key …</code>.</p>
        <form method="post" action="/portal/activate/key">
          <Csrf v={ctx.csrf} />
          <div class="field">
            <label for="code">Licence code</label>
            <input id="code" name="code" type="text" list="inventory-codes" autocomplete="off" required value={form.code ?? ''} aria-describedby="code-hint" />
            <datalist id="inventory-codes">{codes.map((c) => <option value={c.code}>{c.label}</option>)}</datalist>
            <p class="hint" id="code-hint">A code from your inventory{codes.length ? `, e.g. ${codes[0]!.code}` : ''}.</p>
          </div>
          <div class="field">
            <label for="requestCode">Activation request code</label>
            <input id="requestCode" name="requestCode" type="text" autocomplete="off" required class="mono" value={form.requestCode ?? ''} placeholder="XXXX-XXXX-XXXX-XXXX-XXXX-XXXX" />
          </div>
          <div class="field">
            <label class="check" for="transfer-key">
              <input id="transfer-key" name="transfer" type="checkbox" value="1" checked={!!form.transfer || !!offerTransfer} />
              <span>Host transfer: the licence is active on another host that was not deactivated. At most 2 transfers per licence.{offerTransfer && <strong> {offerTransfer}</strong>}</span>
            </label>
          </div>
          <button type="submit">Get activation key</button>
        </form>
      </section>
      <section class="card" aria-labelledby="file-h">
        <h2 id="file-h">With a request file (offline host)</h2>
        <p class="hint">On the host, run <code>tandem license request --file request.json</code>, bring the file here, and install the licence file you download with <code>tandem license install</code>.</p>
        <form method="post" action="/portal/activate/file" enctype="multipart/form-data">
          <Csrf v={ctx.csrf} />
          <div class="field">
            <label for="request">Activation request file</label>
            <input id="request" name="request" type="file" accept=".json,application/json" required />
          </div>
          <div class="field">
            <label for="fileCode">Licence code</label>
            <input id="fileCode" name="code" type="text" list="inventory-codes" autocomplete="off" value={form.fileCode ?? ''} aria-describedby="filecode-hint" />
            <p class="hint" id="filecode-hint">Leave empty to use the code named in the request file.</p>
          </div>
          <div class="field">
            <label class="check" for="transfer-file">
              <input id="transfer-file" name="transfer" type="checkbox" value="1" />
              <span>Host transfer (the licence is active on another host)</span>
            </label>
          </div>
          <button type="submit">Download licence file</button>
        </form>
      </section>
    </div>
  </Layout>
);

export const KeyIssuedPage: FC<{ ctx: PageCtx; activationKey: string; serial: string; hostname: string; transferred: boolean }> = (p) => (
  <Layout title="Activation key" section="activate" user={p.ctx.user} csrf={p.ctx.csrf}>
    <h1>Activation key</h1>
    <Notice kind="ok">Licence {p.serial} is now activated for {p.hostname}{p.transferred ? ' (host transfer)' : ''}.</Notice>
    <section class="card" aria-labelledby="k-h">
      <h2 id="k-h">Type this key on the host</h2>
      <p class="key" aria-label="Activation key" data-testid="activation-key">{p.activationKey}</p>
      <p>On {p.hostname}, run:</p>
      <p><code>tandem license activate --key {p.activationKey}</code></p>
      <p class="hint">The key only works on the host whose request code you entered. It is also sent by e-mail when notifications are set up.</p>
      <p><a href="/portal/licences">Back to licences</a> · <a href="/portal/activate">Activate another host</a></p>
    </section>
  </Layout>
);

export interface HostRow {
  name: string; hostname: string; status: 'online' | 'offline' | 'not enrolled'; lastSeenAt: string | null;
  licences: Array<{ serial: string; state: string; health: 'ok' | 'warning' | 'error'; message: string; assignmentId: string }>;
}

export const HostsPage: FC<{ ctx: PageCtx; hosts: HostRow[]; msg?: Msg }> = ({ ctx, hosts, msg = {} }) => (
  <Layout title="Hosts" section="hosts" user={ctx.user} csrf={ctx.csrf}>
    <h1>Hosts</h1>
    <p class="lede">Every host of {ctx.orgName} with its licences. Deactivate a host you no longer have to free its licence (unlimited).</p>
    <Messages m={msg} />
    <section class="card" aria-labelledby="h-h">
      <h2 id="h-h">Hosts</h2>
      {hosts.length === 0 ? <p class="empty">No hosts yet.</p> : (
        <table>
          <caption>Enrolled servers and hosts activated offline, with when the hub last heard from them.</caption>
          <thead><tr><th scope="col">Host</th><th scope="col">Status</th><th scope="col">Last seen</th><th scope="col">Licences</th></tr></thead>
          <tbody>
            {hosts.map((h) => (
              <tr>
                <td><strong>{h.name}</strong><span class="detail">{h.hostname}</span></td>
                <td><Badge health={h.status === 'online' ? 'ok' : 'muted'}>{h.status}</Badge></td>
                <td>{h.lastSeenAt ? <time datetime={h.lastSeenAt}>{h.lastSeenAt.replace('T', ' ').slice(0, 16)} UTC</time> : 'never'}</td>
                <td>
                  {h.licences.length === 0 ? <Badge health="error">No licence</Badge> : h.licences.map((l) => (
                    <div class="row-actions" style="align-items:center;margin-bottom:6px">
                      <Badge health={l.health}>{l.serial}</Badge><span class="detail">{l.message}</span>
                      <form method="post" action="/portal/licences/deactivate" class="inline">
                        <Csrf v={ctx.csrf} /><input type="hidden" name="assignment" value={l.assignmentId} /><input type="hidden" name="back" value="hosts" />
                        <button class="danger" type="submit" aria-label={`Deactivate ${l.serial} on ${h.name}`}>Deactivate</button>
                      </form>
                    </div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  </Layout>
);
