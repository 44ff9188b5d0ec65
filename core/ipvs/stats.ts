import type { IpvsStats } from './client';
import type { IpvsStatus } from './service';

/**
 * The IPVS part of the statistics file (SIGUSR2): every service alived
 * owns with the kernel's counters, then its real servers with theirs, in
 * the indented layout of the VRRP part. keepalived's file has no such part
 * (it leaves IPVS counters to ipvsadm); scripts that read the VRRP part
 * find it unchanged above this one.
 */
export function formatIpvsStats(status: IpvsStatus): string {
  const out: string[] = [`IPVS: ${status.programmed ? 'programmed' : status.available ? 'not programmed' : 'not available'}`];
  out.push(`  Syncs: ${status.syncs}`, `  Failed syncs: ${status.failures}`, `  Netlink requests: ${status.messages.requests}`);
  for (const s of status.services) {
    out.push(`Virtual Server: ${s.service}${s.virtualServer ? ` (${s.virtualServer})` : ''}`, `  Scheduler: ${s.scheduler}`, ...counters(s.stats, '  '));
    for (const r of s.realServers) {
      out.push(
        `  Real Server: ${r.address}:${r.port}`,
        `    Method: ${r.method}`,
        `    Weight: ${r.weight}`,
        `    Active Connections: ${r.activeConnections}`,
        `    Inactive Connections: ${r.inactiveConnections}`,
        `    Persistent Connections: ${r.persistentConnections}`,
        ...counters(r.stats, '    '),
      );
    }
  }
  return out.join('\n') + '\n';
}

function counters(s: IpvsStats, indent: string): string[] {
  return [
    `${indent}Connections: ${s.connections}`,
    `${indent}Packets In: ${s.inPackets}`,
    `${indent}Packets Out: ${s.outPackets}`,
    `${indent}Bytes In: ${s.inBytes}`,
    `${indent}Bytes Out: ${s.outBytes}`,
  ];
}
