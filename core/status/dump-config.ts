import * as fs from 'node:fs';
import type { ConfigModel } from '../config/model';
import type { ScriptLine } from '../config/values';
import type { InstanceSettings } from '../vrrp/settings';
import { redactUrlSecrets } from '../log/url-secrets';
import { commandLine, SCRIPT_FIELDS, SCRIPT_KEYWORDS, type InstanceDumpConfig, type ScriptField } from './keepalived-format';

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
