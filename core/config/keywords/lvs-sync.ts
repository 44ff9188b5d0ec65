import * as path from 'node:path';
import type { Pos } from '../diagnostics';
import type { CheckCtx } from '../schema';
import type { Stmt } from '../tree';

/**
 * The IPVS sync daemon is one per host: `lvs_sync_daemon` in global_defs,
 * or the old `lvs_sync_daemon_interface` in a vrrp_instance (what
 * core/ipvs/sync-daemon-config.ts reads). Where the config gives it more
 * than once, the ones that do not count are pointed at: the global keyword
 * wins, then the first instance that has the old one.
 */
export function checkLvsSyncDaemon(ctx: CheckCtx, rootStmt: Stmt | undefined): void {
  const top = rootStmt?.block ?? [];
  let winner: { keyword: string; pos: Pos } | undefined;
  for (const g of top) {
    if (g.name.text !== 'global_defs') continue;
    const s = (g.block ?? []).find((x) => x.name.text === 'lvs_sync_daemon');
    if (s) winner = { keyword: 'lvs_sync_daemon', pos: s.name.pos };
  }
  for (const inst of top) {
    if (inst.name.text !== 'vrrp_instance') continue;
    for (const s of (inst.block ?? []).filter((x) => x.name.text === 'lvs_sync_daemon_interface')) {
      if (!winner) {
        winner = { keyword: `lvs_sync_daemon_interface of vrrp_instance ${inst.args[0]?.text ?? ''}`.trim(), pos: s.name.pos };
        continue;
      }
      const where = winner.pos.file === s.name.pos.file ? `line ${winner.pos.line}` : `${path.basename(winner.pos.file)}:${winner.pos.line}`;
      ctx.diags.warning(
        'ALIVED_CONFIG_NO_EFFECT',
        s.name.pos,
        `lvs_sync_daemon_interface is ignored: the IPVS sync daemon is already given by ${winner.keyword} (${where}), and there is one per host`,
      );
    }
  }
}
