import { createHmac } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type * as Undici from 'undici';
import {
  AlivedError,
  ALIVED_VERSION,
  block,
  custom,
  deliveryFields,
  deliveryOptionsOf,
  duration,
  filePath,
  INVALID,
  many,
  oneOf,
  permanentFailure,
  str,
  trackerHeader,
  tuple,
  value,
  word,
  clip,
  isSecretParam,
  redactUrlSecrets,
  type AlivedPlugin,
  type BlockOf,
  type CheckCtx,
  type DeliveryInfo,
  type Logger,
  type Notifier,
  type NotifyEvent,
  type Stmt,
} from '../../core/sdk';
import { classOf, EVENT_CLASSES, jsonPayload, slackPayload, teamsPayload, type WebhookEventClass } from './payload';

export { jsonPayload, slackPayload, teamsPayload, classOf, SCHEMA, type JsonPayload } from './payload';

/**
 * `webhook NAME { url ...; format json|slack|teams; secret_file ...; events
 * vrrp checker quorum; timeout 5 }`: an HTTP POST per event (undici), with an
 * HMAC-SHA256 signature of the body when a secret is set. Delivery (retries,
 * outbox, order, coalescing) is the pipeline's.
 */

const PLUGIN_NAME = 'notify-webhook';
const FEATURE = 'notify';

const url = custom('<URL>', (words, at, keyword, ctx) => {
  if (words.length !== 1) {
    ctx.diags.error(
      words.length ? 'ALIVED_CONFIG_EXTRA_VALUE' : 'ALIVED_CONFIG_MISSING_VALUE',
      words[1]?.pos ?? at,
      `'${keyword}' takes one http:// or https:// URL`,
    );
    return INVALID;
  }
  const w = words[0]!;
  let u: URL;
  try {
    u = new URL(w.text);
  } catch {
    ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `'${clip(w.text)}' is not a URL`);
    return INVALID;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `'${clip(w.text)}': a webhook URL is http:// or https://, not ${u.protocol}`);
    return INVALID;
  }
  if (decoded(u.username) === undefined || decoded(u.password) === undefined) {
    ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', w.pos, `'${clip(w.text)}': the user or password before '@' has a malformed %-escape`);
    return INVALID;
  }
  return u.toString();
});

function decoded(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * A URL's `user:password@` as HTTP basic auth (RFC 7617, UTF-8): undici does
 * not send a URL's credentials, so the header carries them and the URL
 * without them is the one requested.
 */
export function basicAuthOf(url: string): { url: string; authorization?: string } {
  const u = new URL(url);
  if (!u.username && !u.password) return { url };
  const credentials = `${decoded(u.username) ?? u.username}:${decoded(u.password) ?? u.password}`;
  u.username = '';
  u.password = '';
  return { url: u.toString(), authorization: `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}` };
}

/**
 * A URL's credentials, and an `Authorization` header beside them, would be two
 * answers to one question: refused. Credentials sent over http:// (the URL's
 * user and password, a header or a query parameter named like a secret) are
 * readable on the way: a warning says which.
 */
function checkCredentials(v: { name?: string; url?: string; header?: Array<[string, string]> }, ctx: CheckCtx, stmt: Stmt): void {
  if (!v.url) return;
  const u = new URL(v.url);
  const urlAt = stmt.block?.find((c) => c.name.text === 'url')?.name.pos ?? stmt.name.pos;
  const userinfo = u.username !== '' || u.password !== '';
  const auth = stmt.block?.find((c) => c.name.text === 'header' && c.args[0]?.text.toLowerCase() === 'authorization');
  if (userinfo && auth) {
    ctx.diags.error(
      'ALIVED_CONFIG_CONFLICT',
      auth.name.pos,
      `webhook ${v.name}: the URL's user:password@ is sent as 'Authorization: Basic', and 'header Authorization' sets it too: give one of them`,
    );
  }
  if (u.protocol !== 'http:') return;
  const clear: string[] = [];
  if (userinfo) clear.push("the URL's user and password (Authorization: Basic)");
  const headers = (v.header ?? []).map((h) => String(h[0])).filter((n) => isSecretParam(n));
  if (headers.length) clear.push(`the header${headers.length > 1 ? 's' : ''} ${headers.join(', ')}`);
  const params = [...u.searchParams.keys()].filter((n) => isSecretParam(n));
  if (params.length) clear.push(`the query parameter${params.length > 1 ? 's' : ''} ${[...new Set(params)].join(', ')}`);
  if (clear.length) {
    ctx.diags.warning(
      'ALIVED_CONFIG_CLEARTEXT',
      urlAt,
      `webhook ${v.name}: ${clear.join(', ')} cross the network to ${u.host} in clear over http://; use https://`,
    );
  }
}

const headerLine = tuple([str({ pattern: /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, patternText: 'an HTTP header name' }), str()]);

export const webhookSchema = block(
  {
    url: value(url).required().doc("where to POST: http:// or https://; its user:password@ is sent as Authorization: Basic (not with 'header Authorization')"),
    format: word(oneOf(['json', 'slack', 'teams'] as const))
      .default('json')
      .doc("json: alived's schema (docs/notify.md); slack, teams: a readable message for their incoming webhooks"),
    secret_file: word(filePath({ mustExist: true })).doc('file holding the HMAC-SHA256 key (its first line): the X-Alived-Signature header'),
    secret_env: word(str({ pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternText: 'an environment variable name' })).doc(
      'environment variable holding the HMAC key',
    ),
    events: value(many(oneOf(EVENT_CLASSES), { min: 1 })).doc('the kinds of events to send: vrrp checker quorum daemon; default all'),
    timeout: word(duration({ min: 0.1, max: 600 }))
      .default(5)
      .doc('seconds one POST may take'),
    header: value(headerLine).repeatable().doc('NAME VALUE: an extra request header (Authorization, ...); never logged'),
    ...deliveryFields,
  },
  {
    header: trackerHeader,
    feature: FEATURE,
    defines: { kind: 'webhook', name: (v: { name: string }) => v.name },
    check(v: { name?: string; url?: string; header?: Array<[string, string]>; secretFile?: string; secretEnv?: string; pos: unknown }, ctx, stmt) {
      if (v.secretFile && v.secretEnv) ctx.diags.error('ALIVED_CONFIG_CONFLICT', stmt.name.pos, "webhook: give 'secret_file' or 'secret_env', not both");
      checkCredentials(v, ctx, stmt);
    },
  },
);

export type WebhookConfig = BlockOf<typeof webhookSchema>;

function secretOf(cfg: WebhookConfig): string | undefined {
  if (cfg.secretFile) {
    try {
      return fs.readFileSync(cfg.secretFile, 'utf8').split('\n')[0]!.replace(/\r$/, '');
    } catch (err) {
      throw new AlivedError('ALIVED_NOTIFY_SECRET', `cannot read secret_file ${cfg.secretFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
        cause: err,
      });
    }
  }
  if (cfg.secretEnv) {
    const v = process.env[cfg.secretEnv];
    if (v === undefined) throw new AlivedError('ALIVED_NOTIFY_SECRET', `the environment variable ${cfg.secretEnv} (secret_env) is not set`);
    return v;
  }
  return undefined;
}

/** `sha256=<hex>`: HMAC-SHA256 of the exact body bytes with the secret */
export function signature(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function createWebhookNotifier(cfg: WebhookConfig, ctx: { log: Logger; name: string; model: { globalDefs?: { routerId?: string } } }): Notifier {
  const classes = new Set<WebhookEventClass>(cfg.events ?? EVENT_CLASSES);
  const host = os.hostname();
  const routerId = ctx.model.globalDefs?.routerId ?? host;
  const timeoutMs = cfg.timeout * 1000;
  // loaded when a webhook is configured: a daemon without one does not carry undici
  const { Agent, request } = require('undici') as typeof Undici;
  const agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 4000 });
  let secret: string | undefined;
  try {
    secret = secretOf(cfg);
  } catch (err) {
    ctx.log.error({ code: 'ALIVED_NOTIFY_SECRET' }, `webhook ${ctx.name}: ${(err as Error).message}`);
  }
  const needsSecret = cfg.secretFile !== undefined || cfg.secretEnv !== undefined;
  const target = new URL(cfg.url);
  // the URL's user:password@ as Authorization: Basic; the config refused it beside a header Authorization
  const { url: requestUrl, authorization } = basicAuthOf(cfg.url);
  // never the path or the query in a message: Slack's and Teams' URLs carry their token there
  const where = `webhook ${ctx.name} (${target.protocol}//${target.host})`;

  return {
    accepts(e: NotifyEvent): boolean {
      // a test notification (`alived notify test`) goes to every webhook, whatever its `events`
      if (e.type === 'test') return true;
      const c = classOf(e);
      return c !== undefined && classes.has(c);
    },
    async deliver(e: NotifyEvent, signal: AbortSignal, info: DeliveryInfo): Promise<void> {
      if (needsSecret && secret === undefined) secret = secretOf(cfg);
      const p = jsonPayload(e, info, host, routerId);
      const body = JSON.stringify(cfg.format === 'slack' ? slackPayload(p, e) : cfg.format === 'teams' ? teamsPayload(p, e) : p);
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        'user-agent': `alived/${ALIVED_VERSION}`,
        'idempotency-key': info.id,
        'x-alived-event': p.kind,
        'x-alived-sequence': String(info.sequence),
        'x-alived-delivery-attempt': String(info.attempt),
      };
      for (const h of cfg.header ?? []) headers[String(h[0]).toLowerCase()] = String(h[1]);
      if (authorization) headers.authorization = authorization;
      if (secret !== undefined) headers['x-alived-signature'] = signature(secret, body);
      let status: number;
      try {
        const res = await request(requestUrl, { method: 'POST', body, headers, signal, dispatcher: agent });
        status = res.statusCode;
        await res.body.dump().catch(() => undefined);
      } catch (err) {
        if (signal.aborted) throw signal.reason ?? err;
        throw new AlivedError('ALIVED_NOTIFY_RETRY', `POST ${where}: ${redactUrlSecrets((err as Error).message)}`, { cause: err });
      }
      if (status >= 200 && status < 300) return;
      // 408, 425, 429 and 5xx may pass later; another answer will not change on a retry
      if (status === 408 || status === 425 || status === 429 || status >= 500) throw new AlivedError('ALIVED_NOTIFY_RETRY', `POST ${where}: HTTP ${status}`);
      throw permanentFailure(`POST ${where}: HTTP ${status}${status >= 300 && status < 400 ? ' (a redirect: give the final URL)' : ''}`);
    },
    close(): Promise<void> {
      return agent.close();
    },
  };
}

const plugin: AlivedPlugin = {
  name: PLUGIN_NAME,
  version: ALIVED_VERSION,
  alived: `>=${ALIVED_VERSION}`,
  apply(api) {
    api.registerNotifier<WebhookConfig>({
      keyword: 'webhook',
      schema: webhookSchema,
      create: (config, ctx) => createWebhookNotifier(config, ctx),
      delivery: (config) => ({ attemptTimeoutMs: config.timeout * 1000 + 1000, ...deliveryOptionsOf(config) }),
    });
  },
};
export default plugin;
