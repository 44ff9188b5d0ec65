import type { EngineStatus } from './engine';

/**
 * The statistics file keepalived writes on SIGUSR2 (/tmp/keepalived.stats),
 * in its layout, so scripts that read it keep working; alived adds the
 * drops keepalived does not count separately (checksum, version, VRID) and
 * the VIPs someone else removed from a master.
 */
export function formatStats(status: EngineStatus): string {
  const out: string[] = [`Other VRIDs: ${status.otherVrids}`];
  for (const i of status.instances) {
    const c = i.counters;
    out.push(
      `VRRP Instance: ${i.name}`,
      '  Advertisements:',
      `    Received: ${c.advertRcvd}`,
      `    Sent: ${c.advertSent}`,
      `  Became master: ${c.becomeMaster}`,
      `  Released master: ${c.releaseMaster}`,
      '  Packet Errors:',
      `    Length: ${c.packetLenErr}`,
      `    TTL: ${c.ipTtlErr}`,
      `    Invalid Type: ${c.invalidTypeRcvd}`,
      `    Advertisement Interval: ${c.advertIntervalErr}`,
      `    Address List: ${c.addrListErr}`,
      `    Checksum: ${c.checksumErr}`,
      `    Version: ${c.versionErr}`,
      `    VRID: ${c.vridErr}`,
      '  Authentication Errors:',
      `    Invalid Type: ${c.invalidAuthType}`,
      `    Type Mismatch: ${c.authTypeMismatch}`,
      `    Failure: ${c.authFailure}`,
      '  Priority Zero:',
      `    Received: ${c.priZeroRcvd}`,
      `    Sent: ${c.priZeroSent}`,
      '  Virtual Addresses Removed By Others:',
      `    Restored: ${c.vipRestored}`,
      `    Not Restored: ${c.vipLost}`,
    );
  }
  return out.join('\n') + '\n';
}
