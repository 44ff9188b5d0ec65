/**
 * alived's public API for plugin authors and embedders: the SDK (schemas,
 * values, plugin contract, events) plus the compiler, the plugin host and
 * the built-in plugins. The testers are `alived/testing` (core/testing/).
 */
export * from './sdk';
export { createHooks } from './plugin/hooks';
export { PluginHost } from './plugin/host';
export { compileConfig, type CompileOptions, type CompileResult } from './config/compile';
// alived's own plugins, for compileConfig(file, { builtins: BUILTIN_PLUGINS }): the compiler applies only those it is given
export { BUILTIN_PLUGINS } from './plugin/builtins';
export { formatDiagnostic } from './config/diagnostics';
export type { ConfigModel, GlobalDefs, VrrpInstanceConfig, VrrpSyncGroupConfig, VirtualServerConfig, RealServerConfig } from './config/model';
export { ERROR_CODES } from './errors';
