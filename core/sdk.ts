/**
 * What plugins build with: keyword schemas, value parsers, the plugin
 * contract and event types. Built-in plugins import from here (never from
 * core internals); third-party plugins import the same names from 'alived'.
 * This module does not pull in the compiler, the built-in plugins or the
 * testers (those are `alived/testing`, core/testing/), so plugins never form
 * an import cycle with it.
 */
export * from './plugin/types';
export * from './plugin/events';
export { STAGE_FIRST, STAGE_DEFAULT, STAGE_LAST, HOOK_NAMES, type AlivedHooks, type HookName } from './plugin/hooks';
export {
  block,
  sub,
  value,
  word,
  lines,
  camel,
  Keyword,
  BlockSchema,
  type BlockOf,
  type BlockBase,
  type CheckCtx,
  type HostFacts,
  type ExtensionValue,
  type Fields,
  type SlotCheck,
} from './config/schema';
export * from './config/values';
export type { SlotName } from './config/registry';
export type { Pos, Diagnostic, Severity } from './config/diagnostics';
export type { Token } from './config/lexer';
export type { Stmt } from './config/tree';
export { keywordPos } from './config/tree';
export type { Logger } from './log/logger';
// what a plugin shows of a URL it was given (a message, an error): its secrets masked
export { redactUrlSecrets, isSecretParam, URL_SECRET_MASK } from './log/url-secrets';
export { trackReference, trackerHeader, trackerWeight, type TrackReference, type TrackReferenceSpec, type TrackerWeight } from './config/track-entry';
export { checkerCommonFields, checkerConnectionFields } from './check/keywords';
export { AlivedError, isAlivedError, errorText, type ErrorCode, type ErrorTextOptions } from './errors';
export {
  ScriptRunner,
  scriptEnv,
  signalName,
  spawnErrorWords,
  isRedirectionOnly,
  shellCommandLine,
  KILL_GRACE_MS,
  bounded,
  type RunSpec,
  type RunOutcome,
} from './script/run';
// the file mode a file alived creates gets (0644 less global_defs' umask), for plugins that create files (notify FIFOs)
export { maskedMode } from './fs/umask';
export { resolveUser, scriptRunAs, idsToSet, DEFAULT_SCRIPT_USER, type ResolvedUser, type ScriptUserName } from './script/user';
export { ScriptLauncher, commandWords, NOTIFY_SCRIPT_TIMEOUT_MS, type ScriptToRun, type ScriptLauncherOptions, type PreparedRun } from './script/launcher';
// keepalived's script security, for plugins that run scripts themselves (vrrp_script, MISC_CHECK): prepareScript() then ScriptRunner.run()
export {
  prepareScript,
  checkScript,
  scriptIdentity,
  isExecutableBy,
  processIds,
  securityViolationMessage,
  type PrepareOptions,
  type PreparedScript,
  type RefusedScript,
  type ScriptCheck,
  type ScriptCheckOptions,
  type ScriptIds,
  type ScriptRefusal,
  type ScriptToPrepare,
  type UnsafePath,
} from './script/security';
export { ALIVED_VERSION } from './version';
export type { ConfigModel, GlobalDefs, VrrpInstanceConfig, VrrpSyncGroupConfig } from './config/model';
export { formatService, formatVirtualServer } from './check/format';
// the virtual and real servers of a config as the check service names them in its events, with their settings (notify_up, quorum_up, ...)
export { planChecks, type CheckPlan, type VirtualServerPlan, type RealServerPlan } from './check/plan';
// notifiers: the delivery keywords a notifier block may take, how events are named, and the error that stops retries
export { deliveryFields, deliveryOptionsOf, type DeliveryFieldValues } from './notify/delivery-keywords';
export { describeEvent, eventSource, eventState, eventPreviousState, sourceText } from './notify/describe';
export { permanentFailure, backoffMs, DELIVERY_DEFAULTS } from './notify/pipeline';
// sockets as alived's network checks open them (bindto, bind_port, bind_if) and the words of their messages
export { abortWords, describeError, hostPort, onAbort, scoped, tcpConnectOptions, type ConnectionConfig } from './net/socket';
// one GET as keepalived's HTTP_GET / SSL_GET and genhash send it, with the MD5 of the body
export {
  describeRequest,
  hostHeader,
  httpGet,
  type HttpOutcome,
  type HttpProtocol,
  type HttpRequestSpec,
  type HttpResponse,
  type TlsSettings,
} from './net/http-get';
// the result contract the scheduler holds every check() to; the testers (alived/testing) hold checkers to it in tests
export { checkResultShape } from './plugin/check-result';
// what a plugin serves on the HTTP API (api.registerRoute) and reads from api.status: the routes' types and the status document
export type { ApiRoute, ApiRequest, ApiResponse } from './api/types';
export { acceptsGzip } from './api/gzip';
export { TurnBudget, TURN_BUDGET_MS } from './status/turns';
export type * from './status/types';
export { STATUS_VERSION } from './status/types';
