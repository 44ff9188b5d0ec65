import { formatAddress, formatRoute, SCRIPT_FIELDS, vmacOf, type GlobalDumpConfig, type InstanceDumpConfig, type ScriptField } from './keepalived-format';
import type { InstanceStatusDoc, RealServerStatusDoc, StatusDocument, VirtualServerStatusDoc } from './types';

/**
 * keepalived's SIGUSR1 data dumps, made from the status document: the VRRP
 * one (keepalived's /tmp/keepalived.data, vrrp_data.c dump_vrrp() and the
 * sections after it) and the checker one (/tmp/keepalived_check.data,
 * check_data.c). Lines keep keepalived's words, indentation and order, so
 * what reads keepalived's files (the exporters' text mode: `VRRP Instance =`,
 * `State =`, `Virtual IP (n):`, the `VRRP Scripts` section's `Status =`)
 * reads these. Lines about keepalived's internals that alived does not have
 * (socket descriptors, read timeouts, checksums of the last packets,
 * uid:gid of scripts) are left out; alived adds the master as last heard.
 * No password is written: keepalived 2.2 prints auth_pass, alived `********`.
 */
export function formatKeepalivedData(doc: StatusDocument, config: ReadonlyMap<string, InstanceDumpConfig>, globals?: GlobalDumpConfig): string {
  const out: string[] = ['------< VRRP Topology >------'];
  for (const i of doc.vrrp.instances) out.push(...instanceLines(i, config.get(i.name)));
  if (doc.vrrp.syncGroups.length) {
    out.push('------< VRRP Sync groups >------');
    for (const g of doc.vrrp.syncGroups) {
      out.push(` VRRP Sync Group = ${g.name}, ${g.state}`);
      const faults = g.members.filter((m) => doc.vrrp.instances.find((i) => i.name === m)?.state === 'FAULT').length;
      const inits = g.members.filter((m) => doc.vrrp.instances.find((i) => i.name === m)?.state === 'INIT').length;
      out.push(`   Num member fault ${faults}, num member init ${inits}`);
      if (g.members.length) out.push('   VRRP member instances :', ...g.members.map((m) => `     ${m}`));
      const smtp = globals?.syncGroupSmtp.get(g.name);
      if (smtp !== undefined) out.push(`   Using smtp notification = ${smtp ? 'yes' : 'no'}`);
    }
  }
  const scripts = scriptSection(doc, config, globals);
  if (scripts.length) out.push('------< VRRP Scripts >------', ...scripts);
  const files = trackFileSection(doc, globals);
  if (files.length) out.push('------< VRRP Track files >------', ...files);
  return out.join('\n') + '\n';
}

const SCRIPT_TITLES: Record<ScriptField, string> = {
  script_backup: 'Backup',
  script_master: 'Master',
  script_fault: 'Fault',
  script_stop: 'Stop',
  script_deleted: 'Deleted',
  script: 'Generic',
  script_master_rx_lower_pri: 'Master rx lower pri',
};

/** keepalived's `Last transition = 1796650114.532395 (Mon Dec  7 13:28:34.532395 2026)`, in local time as ctime() */
function transitionTime(ms: number): string {
  const d = new Date(ms);
  const usec = String(Math.round((ms % 1000) * 1000)).padStart(6, '0');
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const two = (n: number): string => String(n).padStart(2, '0');
  const clock = `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  return `${Math.floor(ms / 1000)}.${usec} (${days[d.getDay()]} ${months[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${clock}.${usec} ${d.getFullYear()})`;
}

function instanceLines(i: InstanceStatusDoc, c: InstanceDumpConfig | undefined): string[] {
  const out = [` VRRP Instance = ${i.name}`, `   VRRP Version = ${i.version}`];
  if (i.syncGroup) out.push(`   Sync group = ${i.syncGroup}`);
  if (i.family === 'inet6') out.push('   Using Native IPv6');
  out.push(`   State = ${i.state}`);
  if (i.state === 'MASTER' || i.state === 'BACKUP' || i.state === 'FAULT') out.push(`   Wantstate = ${i.state}`);
  if (i.since !== null) out.push(`   Last transition = ${transitionTime(i.since)}`);
  out.push(`   Interface = ${i.interface}`);
  if (i.master && !i.master.self) out.push(`   Master router = ${i.master.address}`, `   Master priority = ${i.master.priority}`);
  if (!c) {
    out.push(`   Virtual Router ID = ${i.vrid}`, `   Priority = ${i.basePriority}`, `   Effective priority = ${i.effectivePriority}`);
    return out;
  }
  const s = c.settings;
  // the configured source, else its own address as a master advertises it
  const src = s.srcAddress ?? (i.master?.self ? i.master.address : undefined);
  if (src) out.push(`   Using src_ip = ${src}`);
  // keepalived adds the interface index to an IPv6 group, which the document does not carry
  if (s.group && s.family === 4) out.push(`   Multicast address ${s.group}`);
  const g = s.garp;
  out.push(
    `   Gratuitous ARP delay = ${g.masterDelay}`,
    `   Gratuitous ARP repeat = ${g.masterRepeat}`,
    `   Gratuitous ARP refresh = ${g.masterRefresh}`,
    `   Gratuitous ARP refresh repeat = ${g.masterRefreshRepeat}`,
    `   Gratuitous ARP lower priority delay = ${g.lowerPrioDelay}`,
    `   Gratuitous ARP lower priority repeat = ${g.lowerPrioRepeat}`,
    `   Down timer adverts = ${s.downTimerAdverts}`,
    `   Send advert after receive lower priority advert = ${s.lowerPrioNoAdvert ? 'false' : 'true'}`,
    `   Send advert after receive higher priority advert = ${s.higherPrioSendAdvert ? 'true' : 'false'}`,
    `   Virtual Router ID = ${i.vrid}`,
    `   Priority = ${i.basePriority}`,
    `   Effective priority = ${i.effectivePriority}`,
    `   Total priority = ${i.effectivePriority}`,
    // keepalived: whole seconds for VRRPv2, milliseconds for VRRPv3
    i.version === 2 ? `   Advert interval = ${i.advertIntervalMs / 1000} sec` : `   Advert interval = ${i.advertIntervalMs} milli-sec`,
    `   Accept = ${s.accept ? 'enabled' : 'disabled'}`,
    `   Preempt = ${s.preempt ? 'enabled' : 'disabled'}`,
  );
  if (s.preemptDelayMs > 0) out.push(`   Preempt delay = ${s.preemptDelayMs / 1000} secs`);
  out.push(`   Promote_secondaries = ${c.promoteSecondaries ? 'enabled' : 'disabled'}`);
  if (s.authPass !== undefined || s.ahPass !== undefined) {
    out.push(`   Authentication type = ${s.authPass !== undefined ? 'SIMPLE_PASSWORD' : 'IPSEC_AH'}`, '   Password = ********');
  }
  const vmac = vmacOf(s);
  const dev = vmac ? vmac.ifname : s.ifname;
  const present = new Set(i.vips.filter((v) => v.present).map((v) => v.address));
  if (s.vips.length) {
    out.push(`   Virtual IP (${s.vips.length}):`);
    for (const a of s.vips) out.push(`     ${formatAddress(a, dev, present.has(`${a.address}/${a.prefix ?? (a.family === 4 ? 32 : 128)}`), vmac)}`);
  }
  if (s.excludedVips.length) {
    out.push('   Virtual IP Excluded :');
    for (const a of s.excludedVips) out.push(`     ${formatAddress(a, dev, i.state === 'MASTER', vmac)}`);
  }
  if (s.unicastPeers.length) {
    out.push(`   Check unicast src : ${s.checkUnicastSrc ? 'yes' : 'no'}`, '   Unicast Peer :');
    for (const p of s.unicastPeers)
      out.push(`     ${p.address}${p.minTtl !== undefined || p.maxTtl !== undefined ? ` min_ttl ${p.minTtl ?? 0} max_ttl ${p.maxTtl ?? 255}` : ''}`);
  }
  if (s.routes.length) out.push('   Virtual Routes :', ...s.routes.map((r) => `     ${formatRoute(r, dev)}`));
  const rev = (r: boolean): string => (r ? ' reverse' : '');
  if (s.trackInterfaces.length) out.push('   Tracked interfaces :', ...s.trackInterfaces.map((t) => `     ${t.ifname} weight ${t.weight}${rev(t.reverse)}`));
  const byType = (type: string): typeof s.tracks => s.tracks.filter((t) => t.type === type);
  if (byType('vrrp_script').length) out.push('   Tracked scripts :', ...byType('vrrp_script').map((t) => `     ${t.name} weight ${t.weight}${rev(t.reverse)}`));
  if (byType('track_file').length) out.push('   Tracked files :', ...byType('track_file').map((t) => `     ${t.name}, weight ${t.weight}${rev(t.reverse)}`));
  if (byType('track_process').length)
    out.push('   Tracked processes :', ...byType('track_process').map((t) => `     ${t.name}, weight ${t.weight}${rev(t.reverse)}`));
  // trackers of plugins: alived's own, under the same heading form
  const other = s.tracks.filter((t) => !['vrrp_script', 'track_file', 'track_process'].includes(t.type));
  if (other.length) out.push('   Tracked by plugins :', ...other.map((t) => `     ${t.type} ${t.name}, weight ${t.weight}${rev(t.reverse)}`));
  out.push(`   Using smtp notification = ${c.smtpAlert ? 'yes' : 'no'}`, `   Notify deleted = ${c.notifyDeleted ? 'Deleted' : 'Fault'}`);
  for (const f of SCRIPT_FIELDS) {
    const line = c.scripts[f];
    if (line !== undefined) out.push(`   ${SCRIPT_TITLES[f]} state transition script = ${line}`);
  }
  out.push(`   Notify priority changes = ${s.notifyPriorityChanges ? 'true' : 'false'}`);
  return out;
}

/** The instances tracking each tracker of a type, by the tracker's name: `     VI_1, weight -20`, and the tracker's state and value. */
function trackedBy(doc: StatusDocument, type: string): Map<string, { state: string; value: number | null; users: string[] }> {
  const out = new Map<string, { state: string; value: number | null; users: string[] }>();
  for (const i of doc.vrrp.instances) {
    for (const t of i.trackers) {
      if (t.type !== type) continue;
      let e = out.get(t.name);
      if (!e) out.set(t.name, (e = { state: t.state, value: t.value, users: [] }));
      e.users.push(`     ${i.name}, weight ${t.weight}${t.reverse ? ' reverse' : ''}`);
    }
  }
  return out;
}

/** keepalived's `------< VRRP Scripts >------`: each vrrp_script with its settings, state and the instances that track it. */
function scriptSection(doc: StatusDocument, config: ReadonlyMap<string, InstanceDumpConfig>, globals: GlobalDumpConfig | undefined): string[] {
  const out: string[] = [];
  for (const [name, e] of trackedBy(doc, 'vrrp_script')) {
    out.push(` VRRP Script = ${name}`);
    const g = globals?.scripts.get(name);
    const command = g?.command ?? [...config.values()].flatMap((c) => c.trackScripts).find((x) => x.name === name)?.command;
    if (command) out.push(`   Command = ${command}`);
    if (g) {
      out.push(
        `   Interval = ${g.interval} sec`,
        `   Timeout = ${g.timeout} sec`,
        `   Weight = ${g.weight}${g.reverse ? ' reverse' : ''}`,
        `   Rise = ${g.rise}`,
        `   Fall = ${g.fall}`,
      );
    }
    // keepalived's two words, which the exporters map to 1 and 0: a script without a good result yet is BAD, as there
    out.push(`   Status = ${e.state === 'up' ? 'GOOD' : 'BAD'}`, '   Tracking instances :', ...e.users);
  }
  return out;
}

/** keepalived's `------< VRRP Track files >------`: each track_file with its file, its value and the instances that track it. */
function trackFileSection(doc: StatusDocument, globals: GlobalDumpConfig | undefined): string[] {
  const out: string[] = [];
  for (const [name, e] of trackedBy(doc, 'track_file')) {
    out.push(` Track file = ${name}`);
    const g = globals?.files.get(name);
    if (g) out.push(`   File = ${g.file}`);
    if (e.value !== null) out.push(`   Status = ${e.value}`);
    if (g) out.push(`   Weight = ${g.weight}${g.reverse ? ' reverse' : ''}`);
    out.push('   Tracking instances :', ...e.users);
  }
  return out;
}

/**
 * keepalived's checker dump (/tmp/keepalived_check.data, its LVS topology):
 * each virtual server and its real servers with their state, and each
 * checker with its last result.
 */
export function formatKeepalivedCheckData(doc: StatusDocument): string {
  const out: string[] = ['------< LVS Topology >------'];
  for (const vs of doc.virtualServers) out.push(...virtualServerLines(vs));
  const checkers = doc.virtualServers.flatMap((vs) => vs.realServers.flatMap((rs) => rs.checkers.map((c) => ({ vs, rs, c }))));
  if (checkers.length) {
    out.push('------< Health checkers >------');
    for (const { vs, rs, c } of checkers) {
      out.push(` ${vsWords(vs)} -> ${rs.address}:${rs.port}`, `   Keepalive method = ${c.keyword}`, `   Target = ${c.target}`);
      out.push(`   Status = ${c.up ? 'UP' : 'DOWN'}, checks ${c.checks}, failures ${c.failures}`);
      if (c.last) out.push(`   Last result = ${c.last.ok ? 'OK' : 'FAILED'} in ${Math.round(c.last.latencyMs * 100) / 100} ms: ${c.last.message}`);
      if (c.error) out.push(`   Error = ${c.error}`);
    }
  }
  return out.join('\n') + '\n';
}

/** keepalived's FMT_VS: the document's name is it */
function vsWords(vs: VirtualServerStatusDoc): string {
  return vs.name;
}

function virtualServerLines(vs: VirtualServerStatusDoc): string[] {
  const out = [' ------< Virtual server >------'];
  if (vs.address !== null) out.push(` VS VIP = ${vs.address}, VPORT = ${vs.port ?? 0}`);
  else if (vs.fwmark !== null) out.push(` VS FWMARK = ${vs.fwmark}`);
  else if (vs.group !== null) out.push(` VS GROUP = ${vs.group}`);
  else out.push(` VS = ${vs.name}`);
  if (vs.protocol) out.push(`   protocol = ${vs.protocol}`);
  out.push(`   quorum = ${vs.quorum}, hysteresis = ${vs.hysteresis}`);
  if (vs.sorryServer) out.push(`   sorry server = ${vs.sorryServer.name}${vs.sorryServer.inUse ? ' (in use)' : ''}`);
  out.push(`   alive = ${vs.quorumUp ? 1 : 0}`, `   quorum_state_up = ${vs.quorumUp ? 1 : 0}`);
  for (const rs of vs.realServers) out.push(...realServerLines(rs));
  return out;
}

function realServerLines(rs: RealServerStatusDoc): string[] {
  return [
    '   ------< Real server >------',
    `   RIP = ${rs.address}, RPORT = ${rs.port}, WEIGHT = ${rs.configuredWeight} EFF WEIGHT = ${rs.weight}`,
    `   Inhibit on failure is ${rs.inhibit ? 'ON' : 'OFF'}`,
    `   initial weight = ${rs.configuredWeight}`,
    `   effective weight = ${rs.weight}`,
    `   alive = ${rs.up ? 1 : 0}`,
    `   num failed checkers = ${rs.checkers.filter((c) => !c.up).length}`,
  ];
}
