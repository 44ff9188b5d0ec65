import type { AddressEntry } from '../config/keywords/vrrp/addresses';
import type { RouteEntry } from '../config/keywords/vrrp/routes';
import type { InstanceSettings } from '../vrrp/settings';
import type { VrrpStateName } from './types';

/*
 * What keepalived's dumps (the JSON dump and the SIGUSR1 data file) share:
 * its state numbers and its one-line forms of an address and a route.
 */

/** keepalived's state numbers (vrrp.h VRRP_STATE_*). */
export const KEEPALIVED_STATE: Readonly<Record<VrrpStateName, number>> = { INIT: 0, BACKUP: 1, MASTER: 2, FAULT: 3, DELETED: 97, STOP: 98 };

/**
 * The config of an instance that the status document does not carry, for
 * the dumps: its resolved settings, and the notify keywords as written.
 */
export interface InstanceDumpConfig {
  readonly settings: InstanceSettings;
  /** notify_backup, notify_master, ... as command lines, by keepalived's JSON names (script_backup, script_master, ...) */
  readonly scripts: Readonly<Partial<Record<ScriptField, string>>>;
  readonly smtpAlert: boolean;
  readonly promoteSecondaries: boolean;
  /** notify_deleted was given */
  readonly notifyDeleted: boolean;
  /** each vrrp_script the instance tracks, in its order, with its command line as keepalived writes it */
  readonly trackScripts: readonly { readonly name: string; readonly command: string }[];
}

/** A vrrp_script block: seconds, keepalived's defaults filled in. */
export interface ScriptDumpConfig {
  readonly command: string;
  readonly interval: number;
  readonly timeout: number;
  readonly weight: number;
  readonly reverse: boolean;
  readonly rise: number;
  readonly fall: number;
}

/** The config of the tracker blocks and sync groups, for the data dump's sections after the instances. */
export interface GlobalDumpConfig {
  /** each vrrp_script by name: its command line as keepalived writes it, and its settings (keepalived's defaults filled in) */
  readonly scripts: ReadonlyMap<string, ScriptDumpConfig>;
  /** each track_file block by name */
  readonly files: ReadonlyMap<string, { readonly file: string; readonly weight: number; readonly reverse: boolean }>;
  /** smtp_alert of each vrrp_sync_group (global_defs' default filled in) */
  readonly syncGroupSmtp: ReadonlyMap<string, boolean>;
}

export const SCRIPT_FIELDS = [
  'script_backup',
  'script_master',
  'script_fault',
  'script_stop',
  'script_deleted',
  'script',
  'script_master_rx_lower_pri',
] as const;
export type ScriptField = (typeof SCRIPT_FIELDS)[number];

/** The config keyword behind each script field. */
export const SCRIPT_KEYWORDS: Readonly<Record<ScriptField, string>> = {
  script_backup: 'notify_backup',
  script_master: 'notify_master',
  script_fault: 'notify_fault',
  script_stop: 'notify_stop',
  script_deleted: 'notify_deleted',
  script: 'notify',
  script_master_rx_lower_pri: 'notify_master_rx_lower_pri',
};

/** keepalived writes the scope it puts on the address: `global` unless the config says otherwise (even for fe80::) */
function scopeName(scope: string | number | undefined): string {
  if (scope === undefined) return 'global';
  return typeof scope === 'number' ? ({ 0: 'global', 200: 'site', 253: 'link', 254: 'host', 255: 'nowhere' }[scope] ?? String(scope)) : scope;
}

/**
 * An address as keepalived's format_ipaddress() writes it:
 * `10.1.0.1/24 dev eth0 scope global set`. `set`: the address is on the
 * interface now.
 */
export function formatAddress(a: AddressEntry, defaultDev: string, set: boolean, vmac?: { ifname: string; base: string }): string {
  const len = a.prefix ?? (a.family === 4 ? 32 : 128);
  // keepalived leaves out a host prefix (/32, /128)
  const parts = [len === (a.family === 4 ? 32 : 128) ? a.address : `${a.address}/${len}`];
  if (a.family === 4 && a.broadcast !== undefined && a.broadcast !== '-') parts.push(`brd ${a.broadcast === '+' ? broadcastOf(a.address, len) : a.broadcast}`);
  const dev = a.dev ?? (a.useVmac && vmac ? vmac.ifname : defaultDev);
  parts.push(`dev ${dev}${vmac && dev === vmac.ifname ? `@${vmac.base}` : ''}${a.useVmac ? ' use_vmac' : ''}`);
  parts.push(`scope ${scopeName(a.scope)}`);
  if (a.label) parts.push(`label ${a.label}`);
  if (a.peer) parts.push(`peer ${a.peer.address}/${len}`);
  if (a.home) parts.push('home');
  if (a.nodad) parts.push('-nodad');
  if (a.mngtmpaddr) parts.push('mngtmpaddr');
  if (a.noprefixroute) parts.push('noprefixroute');
  if (a.autojoin) parts.push('autojoin');
  if (a.noTrack) parts.push('no_track');
  if (a.trackGroup) parts.push(`track_group ${a.trackGroup}`);
  if (a.family === 6)
    parts.push(
      a.preferredLft === 0
        ? 'deprecated'
        : a.preferredLft === undefined || a.preferredLft === 'forever'
          ? 'preferred_lft forever'
          : `preferred_lft ${a.preferredLft}`,
    );
  if (set) parts.push('set');
  return parts.join(' ');
}

function broadcastOf(address: string, len: number): string {
  const n = address.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const host = len >= 32 ? 0 : 2 ** (32 - len) - 1;
  const b = (n - (n % (host + 1)) + host) >>> 0;
  return [24, 16, 8, 0].map((s) => (b >>> s) & 255).join('.');
}

/**
 * A virtual route as keepalived's format_iproute() writes it, for the
 * attributes alived keeps: `prepend 10.9.0.0/24 via inet 10.0.0.254 dev eth0 proto 18`
 * (18 is keepalived's own routing protocol number, its default).
 */
export function formatRoute(r: RouteEntry, defaultDev: string): string {
  const host = (p: { family: number; address: string; prefix: number | undefined }): string =>
    p.prefix === undefined || p.prefix === (p.family === 4 ? 32 : 128) ? p.address : `${p.address}/${p.prefix}`;
  let out = `${r.mode} `;
  if (r.type !== 'unicast') out += `${r.type} `;
  out += r.dst === 'default' ? 'default' : host(r.dst);
  if (r.from) out += ` from ${r.from === 'default' ? 'default' : host(r.from)}`;
  if (r.src) out += ` src ${r.src.address}`;
  if (r.tos !== undefined) out += ` tos ${r.tos}`;
  if (r.via) out += ` via ${r.via.family === 6 ? 'inet6' : 'inet'} ${r.via.address}`;
  const dev = r.dev ?? (r.via || r.type === 'unicast' ? defaultDev : undefined);
  if (dev) out += ` dev ${dev}`;
  if (r.table !== undefined && r.table !== 'main' && r.table !== 254) out += ` table ${r.table}`;
  out += ` proto ${r.protocol ?? 18}`;
  if (r.scope !== undefined) out += ` scope ${r.scope}`;
  if (r.metric !== undefined) out += ` metric ${r.metric}`;
  if (r.onlink && r.family === 4) out += ' onlink';
  for (const [k, v] of Object.entries(r.attrs)) out += v === true ? ` ${k}` : ` ${k}${r.locked.includes(k) ? ' lock' : ''} ${v}`;
  if (r.noTrack) out += ' no_track';
  if (r.trackGroup) out += ` track_group ${r.trackGroup}`;
  return out;
}

/** The settings' VMAC, in the shape formatAddress() takes. */
export function vmacOf(s: InstanceSettings): { ifname: string; base: string } | undefined {
  return s.vmac ? { ifname: s.vmac.ifname, base: s.vmac.base } : undefined;
}

/**
 * A command line as keepalived's cmd_str() writes it: each word in single
 * quotes, `'/usr/bin/echo' 'master'`. (keepalived resolves the program's
 * path first; alived writes it as the config does.)
 */
export function commandLine(argv: readonly string[]): string {
  return argv.map((w) => `'${w}'`).join(' ');
}
