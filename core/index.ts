/**
 * alived's public API for plugin authors and embedders.
 */
export * from './plugin/types';
export * from './plugin/events';
export { createHooks, HOOK_NAMES, STAGE_FIRST, STAGE_DEFAULT, STAGE_LAST, type AlivedHooks, type HookName } from './plugin/hooks';
export { PluginHost } from './plugin/host';
export { block, sub, value, word, lines, Keyword, BlockSchema, type BlockOf, type CheckCtx, type HostFacts, type ExtensionValue } from './config/schema';
export * as values from './config/values';
export { INVALID, type ArgsParser, type WordParser, type ScriptLine, type IpAddress, type IpPrefix } from './config/values';
export { compileConfig, type CompileOptions, type CompileResult } from './config/compile';
export type { Diagnostic, Pos, Severity } from './config/diagnostics';
export { formatDiagnostic } from './config/diagnostics';
export type { ConfigModel } from './config/model';
export { AlivedError, isAlivedError, ERROR_CODES, type ErrorCode } from './errors';
export type { Logger } from './log/logger';
export { ALIVED_VERSION } from './version';
