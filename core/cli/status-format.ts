import type {
  Cause,
  CheckerStatusDoc,
  InstanceStatusDoc,
  NotifierStatusDoc,
  PluginInfo,
  RealServerStatusDoc,
  StatusDocument,
  TimelineEvent,
  TrackerOfInstance,
  VirtualServerStatusDoc,
  Fact,
} from '../status/types';
import { causeLine } from '../status/causes';
import type { NotifyTestResult, OutboxItem } from '../api/types';

/**
 * What `alived status`, `events`, `plugins`, `notify test` and `outbox`
 * print, from the API's documents. Pure functions of a document, the time
 * to count ages from and a palette, so they are tested with literal
 * documents.
 */

/** ANSI colours, or none: the same calls either way. */
export interface Palette {
  readonly green: (s: string) => string;
  readonly yellow: (s: string) => string;
  readonly blue: (s: string) => string;
  readonly red: (s: string) => string;
  readonly dim: (s: string) => string;
  readonly bold: (s: string) => string;
}

const sgr =
  (on: number, off: number) =>
  (s: string): string =>
    `\x1b[${on}m${s}\x1b[${off}m`;

export const PLAIN: Palette = { green: String, yellow: String, blue: String, red: String, dim: String, bold: String };
export const ANSI: Palette = { green: sgr(32, 39), yellow: sgr(33, 39), blue: sgr(34, 39), red: sgr(31, 39), dim: sgr(2, 22), bold: sgr(1, 22) };

/** Colour only on a terminal, and never when NO_COLOR is set (no-color.org) or --no-color is given. */
export function paletteFor(isTTY: boolean | undefined, env: NodeJS.ProcessEnv, noColor = false): Palette {
  return isTTY && !noColor && !env.NO_COLOR ? ANSI : PLAIN;
}

/** `850ms`, `12s`, `3m12s`, `2h05m`, `4d03h` */
export function duration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const neg = ms < 0;
  ms = Math.abs(ms);
  let out: string;
  if (ms < 1000) out = `${Math.round(ms)}ms`;
  else {
    const s = Math.floor(ms / 1000);
    if (s < 60) out = `${s}s`;
    else if (s < 3600) out = `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
    else if (s < 86_400) out = `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
    else out = `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3600)).padStart(2, '0')}h`;
  }
  return neg ? `-${out}` : out;
}

/** `2026-12-07T14:01:02.123+01:00`: local time, with its offset (tzOffsetMin as Date.getTimezoneOffset() gives it) */
export function isoLocal(ms: number, tzOffsetMin = new Date(ms).getTimezoneOffset()): string {
  const local = new Date(ms - tzOffsetMin * 60_000).toISOString().slice(0, 23);
  const off = -tzOffsetMin;
  const sign = off >= 0 ? '+' : '-';
  const a = Math.abs(off);
  return `${local}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/**
 * The cause chain in the order things happened: the root cause first, what
 * it led to after each `->`; a master's advert that follows our priority
 * reads as a comparison with it (`priority 150 - 60 = 90 < 10.0.0.12's
 * 100`), as the status model words it (core/status/causes.ts).
 */
export function causeChain(cause: Cause): string {
  return causeLine(cause);
}

/** `BACKUP because tracker chk_nginx failed (exit 1: "connection refused") -> priority 150 - 60 = 90 < 10.0.0.12's 100` */
export function why(state: string, cause: Cause | null): string | undefined {
  return cause ? `${state} because ${causeChain(cause)}` : undefined;
}

export function stateColor(state: string, p: Palette): string {
  switch (state) {
    case 'MASTER':
      return p.green(state);
    case 'BACKUP':
      return p.blue(state);
    case 'FAULT':
      return p.red(state);
    default:
      return p.yellow(state);
  }
}

/** `10.0.0.5:80`, `[2001:db8::5]:80` */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function ago(at: number | null | undefined, now: number): string {
  return at === null || at === undefined ? '' : `${duration(now - at)} ago`;
}

function shortHash(h: string): string {
  return h.replace(/^sha256:/, '').slice(0, 12);
}

/** the whole `alived status` */
export function formatStatus(doc: StatusDocument, p: Palette = PLAIN): string {
  const now = doc.generatedAt;
  const out: string[] = [...daemonLines(doc, p)];
  out.push('');
  out.push(p.bold('VRRP'));
  if (!doc.vrrp.running) out.push(`  ${p.yellow('the VRRP process is not running')}`);
  if (doc.vrrp.instances.length === 0) out.push('  no VRRP instances');
  for (const i of doc.vrrp.instances) out.push(...instanceLines(i, now, p));
  for (const g of doc.vrrp.syncGroups) out.push(`  sync group ${p.bold(g.name)}  ${stateColor(g.state, p)}  (${g.members.join(', ')})`);
  if (doc.vrrp.otherVrids > 0) out.push(`  ${p.dim(`${doc.vrrp.otherVrids} packets for VRIDs no instance has`)}`);
  if (doc.virtualServers.length) {
    out.push('');
    out.push(p.bold('Virtual servers'));
    out.push(...poolLines(doc.virtualServers, now, p));
  }
  out.push('');
  out.push(...notifierLines(doc, now, p));
  return out.join('\n') + '\n';
}

function daemonLines(doc: StatusDocument, p: Palette): string[] {
  const d = doc.daemon;
  const parts = [
    p.bold(`alived ${d.version}`),
    `pid ${d.pid}`,
    `up ${duration(d.uptimeMs)}`,
    `config ${d.configFile} (${shortHash(d.configHash)})`,
    ...(d.instance ? [`instance ${d.instance}`] : []),
  ];
  const lines = [parts.join('  ')];
  const r = d.lastReload;
  let reload = `reloads ${d.reloads}${d.reloadsRejected ? `, ${p.red(`${d.reloadsRejected} rejected`)}` : ''}`;
  if (r) {
    const outcome = r.applied
      ? p.green('applied')
      : p.red(`rejected (${r.errors} error${r.errors === 1 ? '' : 's'}${r.warnings ? `, ${r.warnings} warnings` : ''})`);
    reload += `; last ${ago(r.at, doc.generatedAt)}: ${outcome} in ${Math.round(r.durationMs)}ms`;
    const first = r.diagnostics.find((x) => x.severity === 'error') ?? (r.applied ? undefined : r.diagnostics[0]);
    if (first) reload += `\n  ${first.file}:${first.line}:${first.column}: ${first.severity}: ${first.message}`;
  }
  lines.push(reload);
  const v = d.vrrpProcess;
  if (v) {
    let s = `VRRP process ${v.pid === null ? p.red('not running') : `pid ${v.pid}`}, restarted ${v.restarts} time${v.restarts === 1 ? '' : 's'}`;
    if (v.lastRestart) s += ` (last ${ago(v.lastRestart.at, doc.generatedAt)}: ${v.lastRestart.reason})`;
    if (v.advertLateness) s += `; adverts late p99 ${v.advertLateness.p99Ms.toFixed(2)}ms, max ${v.advertLateness.maxMs.toFixed(2)}ms`;
    lines.push(s);
  }
  lines.push(`event loop lag p99 ${d.eventLoopLag.p99Ms.toFixed(1)}ms, max ${d.eventLoopLag.maxMs.toFixed(1)}ms`);
  return lines;
}

export function instanceLines(i: InstanceStatusDoc, now: number, p: Palette = PLAIN): string[] {
  const prio = i.effectivePriority === i.basePriority ? `priority ${i.basePriority}` : `priority ${i.effectivePriority} (base ${i.basePriority})`;
  const since = i.since !== null ? `  for ${duration(now - i.since)}` : '';
  const head = `  ${p.bold(i.name)}  ${stateColor(i.state, p)}${since}  ${prio}  ${i.interface}  vrid ${i.vrid}  v${i.version}${i.syncGroup ? `  group ${i.syncGroup}` : ''}`;
  const lines = [head];
  if (i.vips.length) {
    const vips = i.vips.map((v) => {
      const name = v.dev && v.dev !== i.interface ? `${v.address} dev ${v.dev}` : v.address;
      // a master holds its VIPs: one missing there is trouble; a backup holds none, so one it holds is news
      if (!v.present) return `${name} ${i.state === 'MASTER' ? p.red('(not in the kernel!)') : p.dim('(not in the kernel)')}`;
      return i.state === 'MASTER' ? name : `${name} ${p.yellow('(in the kernel)')}`;
    });
    lines.push(`    VIPs ${vips.join(', ')}`);
  }
  if (i.master) {
    lines.push(
      i.master.self
        ? `    master: this node (priority ${i.master.priority})`
        : `    master: ${i.master.address} (priority ${i.master.priority}, as last heard)`,
    );
  } else if (i.state !== 'MASTER') lines.push('    master: none heard yet');
  const w = why(i.state, i.cause);
  if (w) lines.push(`    why: ${w}`);
  if (i.priorityCause && !chainHas(i.cause, i.priorityCause)) lines.push(`    priority ${i.effectivePriority} because ${causeChain(i.priorityCause)}`);
  if (i.fault) lines.push(`    fault: ${p.red(i.fault)}`);
  if (i.waiting.length) lines.push(`    waiting for: ${i.waiting.join(', ')}`);
  for (const t of i.trackers) lines.push(`    ${trackerLine(t, now, p)}`);
  return lines;
}

/** whether the priority's cause is already told in the state's chain (the same text somewhere in it) */
function chainHas(chain: Cause | null, c: Cause): boolean {
  for (let x: Cause | undefined = chain ?? undefined, d = 0; x && d < 16; x = x.because, d++) if (x.text === c.text) return true;
  return false;
}

function trackerLine(t: TrackerOfInstance, now: number, p: Palette): string {
  const state = t.state === 'up' ? p.green('up') : t.state === 'down' ? p.red('down') : p.yellow(t.state);
  const effect = t.effect === 'fault' ? p.red('fault') : t.effect === 0 ? '+0' : t.effect > 0 ? `+${t.effect}` : String(t.effect);
  const parts = [`${t.type} ${t.name}`, state, `effect ${effect}`];
  if (t.value !== null) parts.push(`value ${t.value}`);
  if (t.since !== null) parts.push(`since ${ago(t.since, now)}`);
  if (t.lastResult) parts.push(t.lastResult);
  return `tracker ${parts.join('  ')}`;
}

/** `TCP  10.0.0.1:80 wrr`, `FWM  7 wlc`, as ipvsadm -Ln heads a service; a group by its name */
function serviceHead(vs: VirtualServerStatusDoc): string {
  if (vs.address !== null) return `${(vs.protocol ?? 'TCP').padEnd(4)} ${hostPort(vs.address, vs.port ?? 0)} ${vs.scheduler}`;
  if (vs.fwmark !== null) return `FWM  ${vs.fwmark} ${vs.scheduler}`;
  if (vs.group !== null) return `group ${vs.group} ${vs.scheduler}`;
  return vs.name;
}

/** the pools, as `ipvsadm -Ln` lays them out, with each real server's checks and, when it is out, why */
export function poolLines(vss: readonly VirtualServerStatusDoc[], now: number, p: Palette = PLAIN): string[] {
  const width = Math.max(20, ...vss.flatMap((v) => v.realServers.map((r) => hostPort(r.address, r.port).length)));
  const lines = [p.dim('Prot LocalAddress:Port'), p.dim(`  -> ${'RemoteAddress:Port'.padEnd(width)}  State  Weight  Since`)];
  for (const vs of vss) {
    const quorum = vs.quorumUp ? p.green(`quorum up`) : p.red(`quorum DOWN`);
    let head = `${serviceHead(vs)}  ${quorum} (alive weight ${vs.aliveWeight}, quorum ${vs.quorum}${vs.hysteresis ? ` +/- ${vs.hysteresis}` : ''})`;
    if (vs.sorryServer) head += vs.sorryServer.inUse ? `  ${p.yellow(`sorry server ${vs.sorryServer.name} in use`)}` : `  sorry server ${vs.sorryServer.name}`;
    lines.push(head);
    for (const rs of vs.realServers) lines.push(...realServerLines(rs, width, now, p));
  }
  return lines;
}

function realServerLines(rs: RealServerStatusDoc, width: number, now: number, p: Palette): string[] {
  const state = rs.up ? p.green('up'.padEnd(5)) : p.red('DOWN'.padEnd(5));
  const weight = rs.weight === rs.configuredWeight ? String(rs.weight) : `${rs.weight}/${rs.configuredWeight}`;
  const lines = [
    `  -> ${hostPort(rs.address, rs.port).padEnd(width)}  ${state}  ${weight.padEnd(6)}  ${rs.since !== null ? duration(now - rs.since) : '-'}${rs.name && rs.name !== hostPort(rs.address, rs.port) ? `  ${rs.name}` : ''}`,
  ];
  for (const c of rs.checkers) lines.push(`       ${checkerLine(c, now, p)}`);
  if (!rs.up && rs.cause) lines.push(`       why: ${p.red('out')} because ${causeChain(rs.cause)}`);
  return lines;
}

function checkerLine(c: CheckerStatusDoc, now: number, p: Palette): string {
  if (c.error) return `${c.keyword} ${c.target}: ${p.red(`cannot run: ${c.error}`)}`;
  if (!c.last) return `${c.keyword} ${c.target}: no result yet`;
  const res = c.last.ok ? p.green('ok') : p.red('failed');
  const msg = c.last.message ? ` "${c.last.message}"` : '';
  const fails = c.consecutiveFailures ? `, ${p.red(`${c.consecutiveFailures} failures in a row`)}` : '';
  return `${c.keyword} ${c.target}: ${res}${msg} in ${c.last.latencyMs.toFixed(1)}ms, ${ago(c.last.at, now)}${fails} (${c.failures}/${c.checks} failed)`;
}

export function notifierLines(doc: StatusDocument, now: number, p: Palette = PLAIN): string[] {
  const n = doc.notify;
  const lines = [`${p.bold('Notifiers')}  ${n.outbox ? `outbox ${n.outbox}` : 'in memory only (no outbox)'}, ${n.published} events published`];
  if (n.notifiers.length === 0) lines.push('  none configured');
  for (const x of n.notifiers) lines.push(`  ${notifierLine(x, now, p)}`);
  return lines;
}

function notifierLine(x: NotifierStatusDoc, now: number, p: Palette): string {
  const parts = [p.bold(x.id), `sent ${x.sent}`];
  if (x.failed) parts.push(p.red(`failed ${x.failed}`));
  if (x.expired) parts.push(p.red(`expired ${x.expired}`));
  if (x.outboxDepth) {
    parts.push(p.yellow(`backlog ${x.outboxDepth}${x.oldestPendingMs !== null ? ` (oldest ${duration(x.oldestPendingMs)})` : ''}`));
  } else parts.push('backlog 0');
  if (x.retrying) parts.push(p.yellow(`retrying ${x.retrying}`));
  if (x.lastSentAt !== null) parts.push(`last sent ${ago(x.lastSentAt, now)}`);
  if (x.lastError) parts.push(p.red(`last error ${ago(x.lastErrorAt, now)}: ${x.lastError}`));
  return parts.join('  ');
}

function fact(f: Fact): string {
  return f === null ? '-' : String(f);
}

/** one timeline line: time, kind, subject, before -> after, cause */
export function formatEvent(e: TimelineEvent, p: Palette = PLAIN, tzOffsetMin?: number): string {
  const change =
    e.before === null && e.after === null ? '' : `  ${fact(e.before)} -> ${e.kind === 'vrrp-transition' ? stateColor(fact(e.after), p) : fact(e.after)}`;
  return `${p.dim(isoLocal(e.time, tzOffsetMin))}  ${e.kind}  ${p.bold(e.subject)}${change}  ${causeChain(e.cause)}`;
}

export function formatPlugins(plugins: readonly PluginInfo[], p: Palette = PLAIN): string {
  const rows = plugins.map((x) => {
    const reg = [
      x.checkers.length ? `checkers ${x.checkers.join(' ')}` : '',
      x.trackers.length ? `trackers ${x.trackers.join(' ')}` : '',
      x.notifiers.length ? `notifiers ${x.notifiers.join(' ')}` : '',
      x.keywords.length ? `keywords ${x.keywords.join(' ')}` : '',
    ].filter(Boolean);
    return [x.name, x.version, x.builtin ? 'builtin' : (x.enabledAt ?? 'enabled'), reg.join('; ') || '-'];
  });
  return table(['NAME', 'VERSION', 'ORIGIN', 'REGISTERS'], rows, p);
}

export function formatOutbox(items: readonly OutboxItem[], now: number, p: Palette = PLAIN): string {
  if (items.length === 0) return 'the outbox is empty: every notification was delivered\n';
  const rows = items.map((i) => [
    i.id,
    `#${i.sequence}`,
    duration(now - i.acceptedAt),
    String(i.attempts),
    i.summary + (i.lastError ? `  ${p.red(`last error: ${i.lastError}`)}` : ''),
  ]);
  return table(['ID', 'SEQ', 'AGE', 'ATTEMPTS', 'EVENT'], rows, p);
}

export function formatTestResults(results: readonly NotifyTestResult[], p: Palette = PLAIN): string {
  if (results.length === 0) return 'no notifier is configured: nothing to test\n';
  return (
    results
      .map((r) =>
        r.skipped
          ? `${p.yellow('skipped')}  ${r.id}: ${r.error ?? 'not delivered'}`
          : r.ok
            ? `${p.green('ok')}       ${r.id}: delivered in ${r.ms.toFixed(0)}ms`
            : `${p.red('failed')}   ${r.id}: ${r.error ?? 'failed'} (after ${r.ms.toFixed(0)}ms)`,
      )
      .join('\n') + '\n'
  );
}

/** columns padded to their widest cell; the last column is not padded */
function table(head: readonly string[], rows: readonly (readonly string[])[], p: Palette): string {
  // eslint-disable-next-line no-control-regex
  const visible = (s: string): number => s.replace(/\x1b\[\d+m/g, '').length;
  const widths = head.map((h, c) => Math.max(visible(h), ...rows.map((r) => visible(r[c] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((s, c) => (c === cells.length - 1 ? s : s + ' '.repeat(widths[c]! - visible(s))))
      .join('  ')
      .trimEnd();
  return [p.dim(line(head)), ...rows.map(line)].join('\n') + '\n';
}
