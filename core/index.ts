/**
 * alived's public API for plugin authors and embedders: the SDK (schemas,
 * values, plugin contract, events) plus the compiler and the plugin host.
 */
export * from './sdk';
export { createHooks } from './plugin/hooks';
export { PluginHost } from './plugin/host';
export { compileConfig, type CompileOptions, type CompileResult } from './config/compile';
export { formatDiagnostic } from './config/diagnostics';
export type { ConfigModel, GlobalDefs, VrrpInstanceConfig, VrrpSyncGroupConfig, VirtualServerConfig, RealServerConfig } from './config/model';
export { ERROR_CODES } from './errors';
