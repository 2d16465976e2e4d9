// `tandem job …`: create, list, show (with --watch and a progress bar), remove, and the job controls.
import type { Command } from 'commander';
import { globals, hubClient, output, table } from './context';
import { wholeNumber, readJsonFile, parseJsonArg } from './args';

interface JobView {
  id: string; name: string; state: string; health: string; activity: string; mirrorStatus: string; replicationStatus: string;
  transmitMode: string; targetDataState: string; epoch: number; source: { name: string | null }; target: { name: string | null };
  stats: Record<string, any>; warnings: Array<{ code: string; message: string }>;
}

const mb = (n: number | null | undefined) => (n == null ? '-' : `${(n / 1048576).toFixed(1)} MiB`);

export function progressBar(percent: number | null, width = 30): string {
  if (percent == null) return '';
  const filled = Math.round((Math.max(0, Math.min(100, percent)) / 100) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent.toFixed(1)}%`;
}

export function renderJob(j: JobView): string {
  const s = j.stats;
  const lines = [
    `${j.name} (${j.id})  ${j.source.name} → ${j.target.name}  epoch ${j.epoch}`,
    `  health ${j.health}   activity ${j.activity}`,
    `  mirror ${j.mirrorStatus}   replication ${j.replicationStatus}   transmit ${j.transmitMode}   target data ${j.targetDataState}`,
  ];
  if (j.mirrorStatus === 'in_progress' || j.mirrorStatus === 'calculating') {
    lines.push(`  ${progressBar(s.percentComplete)}  ${mb(s.bytesSent + s.bytesSkipped)} of ${mb(s.bytesTotal)}  ${mb(s.throughputBps)}/s  ETA ${s.etaSec ?? '-'} s`);
  }
  if (s.bandwidthLimitBps != null || s.transmitWindowOpen === false) {
    const window = s.transmitWindowOpen === false ? `outside the transmit windows${s.transmitWindowChangesAt ? ` until ${s.transmitWindowChangesAt}` : ''}` : '';
    lines.push(`  bandwidth ${s.bandwidthLimitBps != null ? `limited to ${s.bandwidthLimitBps} bytes/s` : 'unlimited'}${window ? `   ${window}` : ''}`);
  }
  lines.push(`  files sent ${s.filesSent} skipped ${s.filesSkipped} remaining ${s.filesRemaining ?? '-'}   bytes sent ${mb(s.bytesSent)} (on the wire ${mb(s.wireCompressedBytes)})`);
  const r = s.replication ?? {};
  if (Object.keys(r).length) {
    lines.push(`  replication: queued ${r.opsQueued ?? 0} ops (memory ${mb(r.memoryBytes)}, disk ${mb(r.diskBytes)})  lag ${((r.lagMs ?? 0) / 1000).toFixed(1)} s  ${r.opsPerSec ?? 0} ops/s  sent ${mb(r.bytesSent)}`);
    const cap = r.capture;
    if (cap) {
      const index = cap.filesAwaitingIndex > 0 ? `building the block index: ${cap.filesAwaitingIndex} files left` : 'block index complete';
      lines.push(`  capture: watching ${cap.watchedDirs} directories${cap.unwatchedDirs ? ` (${cap.unwatchedDirs} unwatched, rescanned)` : ''}, tracking ${cap.trackedPaths} paths; ${index}`);
    }
  }
  const f = (j as unknown as { failover?: { progress?: { kind: string; status: string; steps: Array<{ step: string; ok: boolean; skipped?: boolean; detail: string }> } | null; fenced?: string | null } }).failover;
  if (f?.progress) {
    lines.push(`  ${f.progress.kind}: ${f.progress.status}`);
    for (const st of f.progress.steps) lines.push(`    ${st.ok ? (st.skipped ? '-' : '✓') : '✗'} ${st.step}: ${st.detail}`);
  }
  if (f?.fenced) lines.push(`  source fenced: ${f.fenced}`);
  for (const w of j.warnings) lines.push(`  ! ${w.code}: ${w.message}`);
  return lines.join('\n');
}

function readBody(o: { file?: string; json?: string }): Record<string, unknown> {
  if (o.file) return readJsonFile(o.file);
  if (o.json) return parseJsonArg(o.json, 'The --json-body value');
  return {};
}

export function registerJobCommands(program: Command): void {
  const job = program.command('job').description('files jobs: protect paths on a source server onto a target server');
  job.command('create')
    .option('--name <name>')
    .option('--source <server>')
    .option('--target <server>')
    .option('--include <paths...>', 'paths to protect (recursive include rules)')
    .option('--exclude <paths...>', 'paths to leave out (recursive exclude rules)')
    .option('--target-root <dir>', 'all-to-one mapping: replicas go to <dir>/<source name>/<path>')
    .option('--map <pairs...>', 'custom mapping entries SOURCE=TARGET')
    .option('--file <job.json>', 'full job definition as JSON (flags override it)')
    .option('--no-start', 'create without starting')
    .action(async (o, cmd: Command) => {
      const body: Record<string, any> = readBody({ file: o.file });
      if (o.name) body.name = o.name;
      if (o.source) body.source = o.source;
      if (o.target) body.target = o.target;
      if (o.include || o.exclude) {
        body.rules = [
          ...(o.include ?? []).map((p: string) => ({ path: p, type: 'include', recursive: true })),
          ...(o.exclude ?? []).map((p: string) => ({ path: p, type: 'exclude', recursive: true })),
        ];
      }
      if (o.targetRoot) body.pathMapping = { mode: 'all_to_one', targetRoot: o.targetRoot };
      if (o.map) body.pathMapping = { mode: 'custom', entries: o.map.map((m: string) => { const [source, target] = m.split('='); return { source, target }; }) };
      if (o.start === false) body.start = false;
      const res = await hubClient(cmd).call<JobView>('POST', '/v1/jobs', body);
      output(cmd, res, () => `created job ${res.id} (${res.state})\n${renderJob(res)}`);
    });
  job.command('validate').option('--file <job.json>').option('--json-body <json>').action(async (o, cmd: Command) => {
    const res = await hubClient(cmd).call<{ ok: boolean; items: Array<{ severity: string; code: string; message: string }> }>('POST', '/v1/jobs/validate', readBody({ file: o.file, json: o.jsonBody }));
    output(cmd, res, () => res.items.map((i) => `${i.severity.padEnd(7)} ${i.code}: ${i.message}`).join('\n'));
    if (!res.ok) process.exitCode = 1;
  });
  job.command('ls').action(async (_o, cmd: Command) => {
    const res = await hubClient(cmd).call<{ items: JobView[] }>('GET', '/v1/jobs');
    output(cmd, res.items, () => table(['ID', 'NAME', 'SOURCE', 'TARGET', 'HEALTH', 'ACTIVITY', 'MIRROR', 'REPLICATION', 'TARGET DATA'],
      res.items.map((j) => [j.id, j.name, j.source.name, j.target.name, j.health, j.activity, j.mirrorStatus, j.replicationStatus, j.targetDataState])));
  });
  job.command('show <job>')
    .option('--watch', 'refresh every second until interrupted (with --json: one JSON line per refresh)')
    .action(async (id: string, o, cmd: Command) => {
      const client = hubClient(cmd);
      const get = () => client.call<JobView>('GET', `/v1/jobs/${encodeURIComponent(id)}`);
      if (!o.watch) {
        const j = await get();
        output(cmd, j, () => renderJob(j));
        return;
      }
      const json = globals(cmd).json;
      for (;;) {
        const j = await get();
        // With --json, a stream a script can read line by line (no screen control codes).
        if (json) process.stdout.write(`${JSON.stringify(j)}\n`);
        else process.stdout.write(`\x1b[2J\x1b[H${renderJob(j)}\n\n(refreshing every second; Ctrl-C to stop)\n`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    });
  job.command('rm <job>').description('stop and delete a job').action(async (id: string, _o, cmd: Command) => {
    output(cmd, await hubClient(cmd).call('DELETE', `/v1/jobs/${encodeURIComponent(id)}`), () => `deleted ${id}`);
  });
  for (const action of ['start', 'stop', 'pause', 'resume'] as const) {
    job.command(`${action} <job>`).action(async (id: string, _o, cmd: Command) => {
      const j = await hubClient(cmd).call<JobView>('POST', `/v1/jobs/${encodeURIComponent(id)}/${action}`, {});
      output(cmd, j, () => renderJob(j));
    });
  }
  job.command('bandwidth <job> <mode>')
    .description('set bandwidth for every job from this source to this target: unlimited | fixed (--bytes-per-sec N) | scheduled (back to the schedule)')
    .option('--bytes-per-sec <n>', 'the fixed limit, at least 3500', wholeNumber)
    .action(async (id: string, mode: string, o, cmd: Command) => {
      const body = { mode, ...(o.bytesPerSec !== undefined ? { bytesPerSec: Number(o.bytesPerSec) } : {}) };
      const j = await hubClient(cmd).call<JobView>('POST', `/v1/jobs/${encodeURIComponent(id)}/bandwidth`, body);
      output(cmd, j, () => renderJob(j));
    });
  job.command('mirror <job> <action>').description('mirror control: start | pause | resume | stop')
    .option('--mode <mode>', 'all | different')
    .action(async (id: string, action: string, o, cmd: Command) => {
      const j = await hubClient(cmd).call<JobView>('POST', `/v1/jobs/${encodeURIComponent(id)}/mirror`, { action, ...(o.mode ? { mode: o.mode } : {}) });
      output(cmd, j, () => renderJob(j));
    });
  job.command('failover <job>').description('fail over to the target (after "Failover Condition Met", or a planned switch-over)')
    .option('--queue <action>', 'apply | discard what the target still holds', 'apply')
    .action(async (id: string, o, cmd: Command) => {
      const j = await hubClient(cmd).call<JobView>('POST', `/v1/jobs/${encodeURIComponent(id)}/failover`, { queueAction: o.queue });
      output(cmd, j, () => renderJob(j));
    });
  job.command('restore <job>').description('copy the target\'s data back to the source (or --no-data: give up the target\'s changes)')
    .option('--no-data', 'do not restore data ("do not restore" in the manual): the job then needs a mirror')
    .action(async (id: string, o, cmd: Command) => {
      const j = await hubClient(cmd).call<JobView>('POST', `/v1/jobs/${encodeURIComponent(id)}/restore`, { restoreData: o.data !== false });
      output(cmd, j, () => renderJob(j));
    });
  job.command('failback <job>').description('release identity and services on the target, re-block its paths, run the failback scripts')
    .action(async (id: string, _o, cmd: Command) => {
      const j = await hubClient(cmd).call<JobView>('POST', `/v1/jobs/${encodeURIComponent(id)}/failback`, {});
      output(cmd, j, () => renderJob(j));
    });
  job.command('reverse <job>').description('after a failover: the target becomes the source and protection continues the other way')
    .action(async (id: string, _o, cmd: Command) => {
      const j = await hubClient(cmd).call<JobView>('POST', `/v1/jobs/${encodeURIComponent(id)}/reverse`, {});
      output(cmd, j, () => renderJob(j));
    });
  const snap = job.command('snapshot').description('point-in-time snapshots of the replica on the target');
  snap.command('ls <job>').action(async (id: string, _o, cmd: Command) => {
    const r = await hubClient(cmd).call<{ items: Array<{ id: string; takenAt: string; method: string; bytes: number; scheduled: boolean }> }>('GET', `/v1/jobs/${encodeURIComponent(id)}/snapshots`);
    output(cmd, r.items, () => table(['ID', 'TAKEN', 'METHOD', 'BYTES', 'SCHEDULED'], r.items.map((x) => [x.id, x.takenAt, x.method, x.bytes, x.scheduled ? 'yes' : 'no'])));
  });
  snap.command('take <job>').action(async (id: string, _o, cmd: Command) => {
    output(cmd, await hubClient(cmd).call('POST', `/v1/jobs/${encodeURIComponent(id)}/snapshots`, {}), () => 'snapshot requested (see `tandem job snapshot ls`)');
  });
  snap.command('rm <job> <snapshot>').action(async (id: string, sid: string, _o, cmd: Command) => {
    output(cmd, await hubClient(cmd).call('DELETE', `/v1/jobs/${encodeURIComponent(id)}/snapshots/${encodeURIComponent(sid)}`), () => `deletion of ${sid} requested`);
  });
  job.command('verify <job>').description('compare target with source; --run starts a verification, otherwise shows the last report')
    .option('--run', 'start a verification')
    .option('--mirror-differences', 'mirror what differs when done')
    .option('--block-checksum', 'compare block hashes, not just size and time')
    .action(async (id: string, o, cmd: Command) => {
      const client = hubClient(cmd);
      if (o.run) {
        await client.call('POST', `/v1/jobs/${encodeURIComponent(id)}/verify`, { ...(o.mirrorDifferences ? { mirrorDifferences: true } : {}), ...(o.blockChecksum ? { blockChecksum: true } : {}) });
      }
      const r = await client.call<{ status: string; report: any }>('GET', `/v1/jobs/${encodeURIComponent(id)}/verify`);
      output(cmd, r, () => {
        if (!r.report) return `verification: ${r.status}`;
        const p = r.report;
        return [`verification: ${r.status}`, `  compared ${p.filesCompared}  identical ${p.identical}  different ${p.different}  missing on target ${p.missingOnTarget}  orphans on target ${p.orphansOnTarget}`,
          ...p.paths.map((x: { path: string; reason: string }) => `  ${x.reason.padEnd(20)} ${x.path}`), ...(p.truncated ? ['  … (list truncated)'] : [])].join('\n');
      });
    });
}
