// The portal's page frame: document head, inline stylesheet, top bar with navigation, notices. No scripts needed.
import type { Child, FC } from 'hono/jsx';

const CSS = `
:root{--ink:#14202e;--muted:#5b6b7d;--line:#dde3ea;--bg:#f4f6f9;--card:#fff;--brand:#0f5fd7;--brand-ink:#fff;
--ok:#17803d;--ok-bg:#e7f6ec;--warn:#8a5a00;--warn-bg:#fff4d6;--err:#b42318;--err-bg:#fdeceb;--focus:#ffbf47}
*{box-sizing:border-box}html{font-size:15px}
body{margin:0;font-family:system-ui,-apple-system,"Segoe UI",Roboto,Ubuntu,sans-serif;color:var(--ink);background:var(--bg);line-height:1.5}
a{color:var(--brand)}a:focus,button:focus,input:focus,select:focus,textarea:focus{outline:3px solid var(--focus);outline-offset:1px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:6px 10px;z-index:9}
header.top{background:#0b1f3a;color:#fff}
header.top .bar{max-width:1180px;margin:0 auto;display:flex;align-items:center;gap:28px;padding:0 24px;height:58px}
.logo{display:flex;align-items:center;gap:10px;font-weight:700;font-size:1.1rem;color:#fff;text-decoration:none;letter-spacing:.2px}
.logo .mark{width:26px;height:26px;border-radius:7px;background:linear-gradient(135deg,#3b8cff,#19c2a0);display:inline-block;position:relative}
.logo .mark:after{content:"";position:absolute;inset:7px;border:2px solid #fff;border-radius:50%}
.logo small{font-weight:500;color:#9fb3cc;margin-left:2px}
nav.main{display:flex;gap:4px;flex:1}
nav.main a{color:#c8d6e8;text-decoration:none;padding:8px 12px;border-radius:6px;font-weight:500}
nav.main a[aria-current=page]{background:rgba(255,255,255,.12);color:#fff}
nav.main a:hover{color:#fff}
.who{display:flex;align-items:center;gap:12px;color:#c8d6e8;font-size:.93rem}
.who form{margin:0}.who button{background:transparent;border:1px solid #3d5675;color:#dbe6f3;padding:5px 10px;border-radius:6px;cursor:pointer}
main{max-width:1180px;margin:0 auto;padding:28px 24px 60px}
h1{font-size:1.6rem;margin:0 0 4px}h2{font-size:1.15rem;margin:0 0 12px}.lede{color:var(--muted);margin:0 0 22px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:20px 22px;margin-bottom:20px;box-shadow:0 1px 2px rgba(16,24,40,.04)}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:20px}
.stats{display:grid;grid-template-columns:repeat(4,1fr);gap:14px;margin-bottom:20px}
.stat{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.stat b{display:block;font-size:1.6rem;line-height:1.2}.stat span{color:var(--muted);font-size:.9rem}
table{width:100%;border-collapse:collapse;font-size:.93rem}
caption{text-align:left;color:var(--muted);padding:0 0 8px;font-size:.9rem}
th{text-align:left;font-weight:600;color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.4px;border-bottom:1px solid var(--line);padding:8px 10px}
td{border-bottom:1px solid var(--line);padding:10px;vertical-align:top}
tr:last-child td{border-bottom:0}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88rem}
.badge{display:inline-flex;align-items:center;gap:6px;padding:2px 9px;border-radius:999px;font-size:.8rem;font-weight:600;white-space:nowrap}
.badge:before{content:"";width:7px;height:7px;border-radius:50%;background:currentColor}
.b-ok{background:var(--ok-bg);color:var(--ok)}.b-warning{background:var(--warn-bg);color:var(--warn)}.b-error{background:var(--err-bg);color:var(--err)}
.b-muted{background:#eef1f5;color:var(--muted)}
.detail{color:var(--muted);font-size:.86rem;display:block;margin-top:2px}.detail.mono{white-space:nowrap;font-size:.8rem}
label{display:block;font-weight:600;margin:0 0 6px}
.hint{color:var(--muted);font-size:.86rem;margin:4px 0 0;font-weight:400}
input[type=text],input[type=email],input[type=password],select,textarea{width:100%;padding:9px 11px;border:1px solid #c5cfdb;border-radius:7px;font:inherit;background:#fff}
textarea{min-height:92px;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9rem}
input[type=file]{font:inherit;padding:8px;border:1px dashed #b8c4d3;border-radius:7px;width:100%;background:#fafbfd}
.field{margin-bottom:16px}section>p.hint{margin:0 0 16px}.check{display:flex;gap:8px;align-items:flex-start;font-weight:400}.check input{margin-top:4px}
button,.btn{display:inline-block;background:var(--brand);color:var(--brand-ink);border:0;border-radius:7px;padding:9px 16px;font:inherit;font-weight:600;cursor:pointer;text-decoration:none}
button.secondary{background:#fff;color:var(--ink);border:1px solid #c5cfdb}
button.danger{background:#fff;color:var(--err);border:1px solid #f1b8b3;padding:5px 10px;font-size:.85rem}
.notice{border-radius:8px;padding:12px 14px;margin-bottom:18px;border:1px solid}
.notice.ok{background:var(--ok-bg);border-color:#b7e2c4;color:#0f5a2b}.notice.error{background:var(--err-bg);border-color:#f4c1bc;color:#8c1d13}
.key{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:1.7rem;letter-spacing:2px;background:#0b1f3a;color:#fff;padding:18px 20px;border-radius:10px;text-align:center;margin:12px 0}
.login{max-width:420px;margin:60px auto}
.login .card{padding:28px}
.footer{color:var(--muted);font-size:.82rem;text-align:center;margin-top:30px}
.inline{display:inline}.row-actions{display:flex;gap:6px;flex-wrap:wrap}
.empty{color:var(--muted);text-align:center;padding:26px}
@media (max-width:760px){.stats{grid-template-columns:repeat(2,1fr)}header.top .bar{gap:12px}.who span{display:none}}
`;

export type Section = 'licences' | 'activate' | 'hosts';

export const Layout: FC<{ title: string; section?: Section; user?: { email: string }; csrf?: string; children?: Child }> = (p) => (
  <html lang="en">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <title>{`${p.title} · Tandem activation portal`}</title>
      <style dangerouslySetInnerHTML={{ __html: CSS }} />
    </head>
    <body>
      <a class="skip" href="#content">Skip to content</a>
      <header class="top">
        <div class="bar">
          <a class="logo" href="/portal/licences"><span class="mark" aria-hidden="true" />Tandem <small>Activation portal</small></a>
          {p.user && (
            <nav class="main" aria-label="Portal">
              <a href="/portal/licences" aria-current={p.section === 'licences' ? 'page' : undefined}>Licences</a>
              <a href="/portal/activate" aria-current={p.section === 'activate' ? 'page' : undefined}>Activate a host</a>
              <a href="/portal/hosts" aria-current={p.section === 'hosts' ? 'page' : undefined}>Hosts</a>
            </nav>
          )}
          {p.user && (
            <div class="who">
              <span>{p.user.email}</span>
              <form method="post" action="/portal/logout">
                <input type="hidden" name="_csrf" value={p.csrf} />
                <button type="submit">Sign out</button>
              </form>
            </div>
          )}
        </div>
      </header>
      <main id="content">
        {p.children}
        <p class="footer">Tandem replication and failover · Licences are verified offline by each host with the hub's public key.</p>
      </main>
    </body>
  </html>
);

export const Notice: FC<{ kind: 'ok' | 'error'; children?: Child }> = (p) => (
  <div class={`notice ${p.kind}`} role={p.kind === 'error' ? 'alert' : 'status'}>{p.children}</div>
);

export const Badge: FC<{ health: 'ok' | 'warning' | 'error' | 'muted'; children?: Child }> = (p) => (
  <span class={`badge b-${p.health}`}>{p.children}</span>
);
