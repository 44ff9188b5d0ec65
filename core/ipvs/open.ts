import { spawnSync } from 'node:child_process';
import type { Logger } from '../log/logger';
import { IpvsClient, type IpvsClientOptions, type IpvsError } from './client';

/**
 * Opens the IPVS client, loading ip_vs with modprobe first when the kernel
 * has it as a module not yet loaded (as keepalived does). Throws the
 * client's IpvsError (ENOPROTOOPT: the kernel has no IPVS).
 */
export async function openIpvsClient(opts: IpvsClientOptions | undefined, log: Logger): Promise<IpvsClient> {
  try {
    return await IpvsClient.open(opts);
  } catch (err) {
    if ((err as IpvsError).errno !== 'ENOPROTOOPT') throw err;
    const r = spawnSync('modprobe', ['ip_vs'], { stdio: 'ignore', timeout: 10_000 });
    if (r.status !== 0) throw err;
    log.info({}, 'loaded the ip_vs kernel module');
    return IpvsClient.open(opts);
  }
}
