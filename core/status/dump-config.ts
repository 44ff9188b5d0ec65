import * as fs from 'node:fs';
import type { ConfigModel } from '../config/model';
import type { ScriptLine } from '../config/values';
import type { InstanceSettings } from '../vrrp/settings';
import { redactUrlSecrets } from '../log/url-secrets';
import {
  commandLine,
  SCRIPT_FIELDS,
  SCRIPT_KEYWORDS,
  type GlobalDumpConfig,
  type InstanceDumpConfig,
  type ScriptDumpConfig,
  type ScriptField,
} from './keepalived-format';

/**
 * The config part of keepalived's dumps, from the config model and the
 * instances' resolved settings: what the status document does not carry.
 */
export function instanceDumpConfigs(model: ConfigModel, instances: readonly InstanceSettings[]): Map<string, InstanceDumpConfig> {
  const scriptCommands = new Map<string, string>();
  for (const ext of model.extensions) {
    if (ext.keyword !== 'vrrp_script') continue;
    const v = ext.value as { name?: unknown; script?: ScriptLine } | null;
    if (typeof v?.name === 'string' && v.script && !scriptCommands.has(v.name)) scriptCommands.set(v.name, safeCommand(v.script));
  }
  const blocks = new Map<string, Record<string, unknown>>();
  for (const b of model.vrrpInstance ?? []) {
    const name = (b as { name?: unknown }).name;
    if (typeof name === 'string' && !blocks.has(name)) blocks.set(name, b as unknown as Record<string, unknown>);
  }
  // an instance without smtp_alert follows global_defs (smtp_alert_vrrp, else smtp_alert), as keepalived
  const g = (model.globalDefs ?? {}) as Record<string, unknown>;
  const smtpDefault = (g.smtpAlertVrrp ?? g.smtpAlert) === true;
  const out = new Map<string, InstanceDumpConfig>();
  for (const s of instances) {
    const b = blocks.get(s.name) ?? {};
    const scripts: Partial<Record<ScriptField, string>> = {};
    for (const f of SCRIPT_FIELDS) {
      const line = b[camel(SCRIPT_KEYWORDS[f])] as ScriptLine | true | undefined;
      if (line && typeof line === 'object') scripts[f] = safeCommand(line);
    }
    out.set(s.name, {
      settings: s,
      scripts,
      smtpAlert: b.smtpAlert === undefined ? smtpDefault : b.smtpAlert === true,
      promoteSecondaries: b.promoteSecondaries === true,
      notifyDeleted: b.notifyDeleted !== undefined,
      trackScripts: s.tracks
        .filter((t) => t.type === 'vrrp_script' && scriptCommands.has(t.name))
        .map((t) => ({ name: t.name, command: scriptCommands.get(t.name)! })),
    });
  }
  return out;
}

/** The tracker blocks' and sync groups' config for the data dump. */
export function globalDumpConfig(model: ConfigModel): GlobalDumpConfig {
  const num = (v: unknown, dflt: number): number => (typeof v === 'number' ? v : dflt);
  const weightOf = (w: unknown): { weight: number; reverse: boolean } => {
    const o = w as { value?: unknown; reverse?: unknown } | undefined;
    return { weight: num(o?.value, 0), reverse: o?.reverse === true };
  };
  const scripts = new Map<string, ScriptDumpConfig>();
  const files = new Map<string, { file: string; weight: number; reverse: boolean }>();
  for (const ext of model.extensions) {
    const v = ext.value as Record<string, unknown> | null;
    const name = v?.name;
    if (typeof name !== 'string') continue;
    if (ext.keyword === 'vrrp_script' && v!.script && !scripts.has(name)) {
      // keepalived's defaults: every second, no timeout of its own, rise and fall 1
      scripts.set(name, {
        command: safeCommand(v!.script as ScriptLine),
        interval: num(v!.interval, 1),
        timeout: num(v!.timeout, 0),
        ...weightOf(v!.weight),
        rise: num(v!.rise, 1),
        fall: num(v!.fall, 1),
      });
    }
    if (ext.keyword === 'track_file' && typeof v!.file === 'string' && !files.has(name)) files.set(name, { file: v!.file, ...weightOf(v!.weight) });
  }
  const g = (model.globalDefs ?? {}) as Record<string, unknown>;
  const smtpDefault = (g.smtpAlertVrrp ?? g.smtpAlert) === true;
  const syncGroupSmtp = new Map<string, boolean>();
  for (const sg of model.vrrpSyncGroup ?? []) {
    const b = sg as unknown as Record<string, unknown>;
    if (typeof b.name === 'string') syncGroupSmtp.set(b.name, b.smtpAlert === undefined ? smtpDefault : b.smtpAlert === true);
  }
  return { scripts, files, syncGroupSmtp };
}

/** a command line for a dump: the secrets of URLs in it masked, as `alived -d` masks them */
function safeCommand(line: ScriptLine): string {
  return redactUrlSecrets(commandLine(resolved(line.argv)), '********');
}

/** the model's key of a keyword: notify_master -> notifyMaster */
function camel(keyword: string): string {
  return keyword.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/** keepalived writes a script's program with its path resolved (/bin/true is /usr/bin/true on Debian) */
function resolved(argv: readonly string[]): string[] {
  const [exe, ...rest] = argv;
  if (exe === undefined || !exe.startsWith('/')) return [...argv];
  try {
    return [fs.realpathSync(exe), ...rest];
  } catch {
    return [...argv];
  }
}
