import { formatKeepalivedCheckData, formatKeepalivedData } from '../status/keepalived-data';
import { formatKeepalivedJson } from '../status/keepalived-json';
import type { GlobalDumpConfig, InstanceDumpConfig } from '../status/keepalived-format';
import { globalDumpConfig, instanceDumpConfigs } from '../status/dump-config';
import type { Daemon } from '../daemon/daemon';
import type { StatusDocument } from '../status/types';

/**
 * keepalived's signal dumps as alived writes them: which file each signal
 * writes and what goes in it. The contents come from the status document
 * and the config part the document does not carry (DumpInputs).
 */

/** What the dumps are made from. */
export interface DumpInputs {
  readonly doc: StatusDocument;
  /** the instances' config, by name (instanceDumpConfigs()) */
  readonly config: ReadonlyMap<string, InstanceDumpConfig>;
  /** the tracker blocks' and sync groups' config (globalDumpConfig()) */
  readonly globals?: GlobalDumpConfig;
}

export type DumpInputSource = () => Promise<DumpInputs>;

/** Where the dumps go, before their extension: `/tmp/alived`, `/tmp/alived_NAME` with --instance NAME, `/tmp/keepalived` run as keepalived. */
export function dumpBase(o: { readonly instance: string | undefined; readonly dumpNames: 'alived' | 'keepalived' }): string {
  return `/tmp/${o.dumpNames}${o.instance ? `_${o.instance}` : ''}`;
}

/** The files a signal writes, with their contents: SIGUSR1 `data` (and `_check.data` with virtual servers), the JSON signal `json`. */
export function dumpFiles(kind: 'data' | 'json', inputs: DumpInputs, base: string): { file: string; text: string }[] {
  // as keepalived: no VRRP instance, no JSON file
  if (kind === 'json') return inputs.doc.vrrp.instances.length ? [{ file: `${base}.json`, text: formatKeepalivedJson(inputs.doc, inputs.config) }] : [];
  const out = [{ file: `${base}.data`, text: formatKeepalivedData(inputs.doc, inputs.config, inputs.globals) }];
  // keepalived's checker process writes its own file (keepalived_check.data)
  if (inputs.doc.virtualServers.length) out.push({ file: `${base}_check.data`, text: formatKeepalivedCheckData(inputs.doc) });
  return out;
}

/** The dumps' inputs: a status document and the config part of the daemon's running instances. */
export function dumpInputsFor(doc: StatusDocument, daemon: Daemon): DumpInputs {
  return { doc, config: instanceDumpConfigs(daemon.model, daemon.vrrpInstanceSettings()), globals: globalDumpConfig(daemon.model) };
}
