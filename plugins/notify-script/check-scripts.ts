import {
  formatService,
  planChecks,
  type ConfigModel,
  type QuorumChangeEvent,
  type RealServerChangeEvent,
  type ScriptLine,
  type ScriptToRun,
} from '../../core/sdk';

/**
 * The checks' notify scripts of a config, found from their events:
 * notify_up / notify_down of a real server, quorum_up / quorum_down of a
 * virtual server, named as the check service names them in its events
 * (`[10.0.0.1]:tcp:80`, `FWM 5`, `[group]:0`; the same planChecks()). They
 * run as keepalived's notify_exec() runs them: with the words written in
 * the config and nothing more (unlike VRRP's `notify`, no argument is
 * added), in alived's environment.
 *
 * take() at a reload keeps what the new config removed: a real server that
 * leaves while up is notified down with its old notify_down, as keepalived's
 * clear_diff_services() does with the old config.
 */

export interface CheckScript {
  /** as the config line gives it: the log names the command as written */
  readonly script: ScriptToRun;
  /** for the log: `notify_down for [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80` */
  readonly what: string;
}

interface UpDown {
  readonly up: ScriptLine | undefined;
  readonly down: ScriptLine | undefined;
  /** `notify` or `quorum`, and what they belong to: `for [10.0.0.2]:tcp:80 of VS [10.0.0.1]:tcp:80` */
  readonly kind: 'notify' | 'quorum';
  readonly of: string;
}

export class CheckScripts {
  private current = new Map<string, UpDown>();
  /** what the last reload removed */
  private retired = new Map<string, UpDown>();

  /** The scripts of a (new) config. */
  take(model: ConfigModel): void {
    const next = new Map<string, UpDown>();
    // no checker definitions: only names and scripts are wanted, not checkers
    for (const vs of planChecks(model, new Map()).virtualServers) {
      next.set(quorumKey(vs.name), { up: vs.quorumUp, down: vs.quorumDown, kind: 'quorum', of: `of VS ${vs.name}` });
      for (const rs of vs.realServers)
        next.set(realServerKey(vs.name, rs.name), { up: rs.notifyUp, down: rs.notifyDown, kind: 'notify', of: `for ${rs.name} of VS ${vs.name}` });
    }
    this.retired = new Map([...this.current].filter(([k]) => !next.has(k)));
    this.current = next;
  }

  /** Every script of the current config, for the audit at load. */
  all(): CheckScript[] {
    const out: CheckScript[] = [];
    for (const s of this.current.values()) {
      if (s.up) out.push({ script: s.up, what: `${s.kind}_up ${s.of}` });
      if (s.down) out.push({ script: s.down, what: `${s.kind}_down ${s.of}` });
    }
    return out;
  }

  /** notify_up or notify_down of the real server, if it has one */
  forRealServer(e: Pick<RealServerChangeEvent, 'virtualServer' | 'realServer' | 'up'>): CheckScript | undefined {
    const rsName = formatService(e.realServer.address, e.realServer.port, e.realServer.protocol);
    const line = this.find(realServerKey(e.virtualServer, rsName), e.up);
    return line && { script: line, what: `${e.up ? 'notify_up' : 'notify_down'} for ${rsName} of VS ${e.virtualServer}` };
  }

  /** quorum_up or quorum_down of the virtual server, if it has one */
  forQuorum(e: Pick<QuorumChangeEvent, 'virtualServer' | 'up'>): CheckScript | undefined {
    const line = this.find(quorumKey(e.virtualServer), e.up);
    return line && { script: line, what: `${e.up ? 'quorum_up' : 'quorum_down'} of VS ${e.virtualServer}` };
  }

  private find(key: string, up: boolean): ScriptLine | undefined {
    const s = this.current.get(key) ?? this.retired.get(key);
    return up ? s?.up : s?.down;
  }
}

function realServerKey(vs: string, rs: string): string {
  return `rs ${vs} ${rs}`;
}

function quorumKey(vs: string): string {
  return `vs ${vs}`;
}
