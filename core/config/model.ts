import type { BlockOf } from './schema';
import type { rootSchema } from './keywords/root';
import type { globalDefsSchema } from './keywords/global-defs';
import type { vrrpInstanceSchema, vrrpSyncGroupSchema } from './keywords/vrrp';
import type { virtualServerSchema, realServerSchema, virtualServerGroupSchema } from './keywords/lvs';

/** The validated config: what `alived -t` checks and the daemon runs. */
export type ConfigModel = BlockOf<typeof rootSchema>;
export type GlobalDefs = BlockOf<typeof globalDefsSchema>;
export type VrrpInstanceConfig = BlockOf<typeof vrrpInstanceSchema>;
export type VrrpSyncGroupConfig = BlockOf<typeof vrrpSyncGroupSchema>;
export type VirtualServerConfig = BlockOf<typeof virtualServerSchema>;
export type RealServerConfig = BlockOf<typeof realServerSchema>;
export type VirtualServerGroupConfig = BlockOf<typeof virtualServerGroupSchema>;
