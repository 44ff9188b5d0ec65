import * as fs from 'node:fs';
import * as os from 'node:os';
import type * as Nodemailer from 'nodemailer';
import {
  AlivedError,
  ALIVED_VERSION,
  block,
  custom,
  deliveryFields,
  deliveryOptionsOf,
  email,
  filePath,
  INVALID,
  lines,
  many,
  oneOf,
  optBool,
  permanentFailure,
  str,
  value,
  word,
  clip,
  type AlivedPlugin,
  type BlockBase,
  type CheckCtx,
  type ConfigModel,
  type DeliveryFieldValues,
  type DeliveryInfo,
  type Logger,
  type Notifier,
  type NotifyEvent,
  type Stmt,
} from '../../core/sdk';
import { keepalivedText, kindOf, mailsState, MAIL_KINDS, render, templateProblem, vars, type MailKind, type MailText } from './message';

export { keepalivedText, render, templateProblem, TEMPLATE_VARIABLES, type MailKind, type MailText } from './message';

/**
 * Mail on state changes, as keepalived 2.2.8 sends it (keepalived/core/smtp.c)
 * from its global_defs (notification_email, notification_email_from,
 * smtp_server, smtp_helo_name, smtp_connect_timeout, smtp_alert*,
 * no_email_faults), through nodemailer; and beyond keepalived: STARTTLS or
 * TLS, SMTP authentication with the password from a file or the
 * environment, subject and body templates, and recipient lists per kind of
 * event. Delivery (retries, outbox, order, coalescing) is the pipeline's.
 */

const PLUGIN_NAME = 'notify-mail';
const FEATURE = 'notify-mail';

/** `KIND "template"`: smtp_subject vrrp "[{router_id}] {name} is {state}" */
const kindTemplate = custom('<vrrp|checker|quorum> <TEMPLATE>', (words, at, keyword, ctx) => {
  if (words.length < 2) {
    ctx.diags.error('ALIVED_CONFIG_MISSING_VALUE', at, `'${keyword}' needs a kind (vrrp, checker or quorum) and a template in quotes`);
    return INVALID;
  }
  const kind = oneOf(MAIL_KINDS).parse(words[0]!, ctx);
  if (kind === INVALID) return INVALID;
  if (words.length > 2) {
    ctx.diags.error('ALIVED_CONFIG_EXTRA_VALUE', words[2]!.pos, `'${keyword}' takes one template; put it in quotes ('${clip(words[2]!.text)}' is extra)`);
    return INVALID;
  }
  const template = words[1]!.text;
  const problem = templateProblem(template);
  if (problem) {
    ctx.diags.error('ALIVED_CONFIG_BAD_VALUE', words[1]!.pos, `'${keyword}': ${problem}`);
    return INVALID;
  }
  return { kind, template };
});

const recipients = lines(many(email, { min: 1 }), { allowEmpty: false });

/** The keywords notify-mail adds to global_defs (keepalived's own are core keywords). */
export const mailKeywords = {
  smtp_tls: word(oneOf(['no', 'starttls', 'tls'] as const))
    .feature(FEATURE)
    .doc('no: plain SMTP, STARTTLS never tried (keepalived); starttls: required; tls: TLS from the start (port 465). Default no'),
  smtp_tls_ca: word(filePath({ mustExist: true }))
    .feature(FEATURE)
    .doc("PEM file of the CA certificates to trust for the SMTP server; default the system's"),
  smtp_tls_verify: value(optBool).feature(FEATURE).doc("check the server's certificate and name; default yes"),
  smtp_auth_user: word(str({ minLength: 1 }))
    .feature(FEATURE)
    .doc('user for SMTP AUTH (needs smtp_auth_password_file or smtp_auth_password_env)'),
  smtp_auth_password_file: word(filePath({ mustExist: true }))
    .feature(FEATURE)
    .doc('file holding the SMTP password (its first line); read at each start and reload, never logged'),
  smtp_auth_password_env: word(str({ pattern: /^[A-Za-z_][A-Za-z0-9_]*$/, patternText: 'an environment variable name' }))
    .feature(FEATURE)
    .doc('environment variable holding the SMTP password'),
  smtp_auth_cleartext: value(optBool)
    .feature(FEATURE)
    .doc(
      'allow SMTP AUTH with smtp_tls no: the user and password then cross the network in clear (a warning says so); without it that is a config error. Default no',
    ),
  smtp_subject: value(kindTemplate).repeatable().feature(FEATURE).doc('subject template for one kind of event (vrrp, checker, quorum)'),
  smtp_body: value(kindTemplate).repeatable().feature(FEATURE).doc('body template for one kind of event'),
  notification_email_vrrp: recipients.feature(FEATURE).doc('recipients of VRRP mails, instead of notification_email'),
  notification_email_checker: recipients.feature(FEATURE).doc('recipients of real-server mails, instead of notification_email'),
  notification_email_quorum: recipients.feature(FEATURE).doc('recipients of virtual-server (quorum) mails, instead of notification_email'),
};

/**
 * SMTP AUTH over plain TCP hands the user and password (base64, not
 * encrypted) to anyone on the path: with smtp_tls no it is a config error,
 * unless smtp_auth_cleartext says it is meant; then a warning says what goes
 * in clear. STARTTLS (smtp_tls starttls, required) and TLS count as TLS.
 * keepalived has no SMTP AUTH: no keepalived config meets this.
 */
export function checkAuthOverTls(g: BlockBase & Record<string, unknown>, ctx: CheckCtx, _stmt: Stmt): void {
  const x = g.extensions;
  const user = x.find((e) => e.keyword === 'smtp_auth_user');
  if (!user || (ext<'no' | 'starttls' | 'tls'>(x, 'smtp_tls') ?? 'no') !== 'no') return;
  const allow = x.find((e) => e.keyword === 'smtp_auth_cleartext');
  const server = g.smtpServer as { host: string; port: number } | undefined;
  const to = server ? `smtp_server ${server.host}:${server.port}` : 'the smtp_server';
  if (allow?.value !== true) {
    ctx.diags.error(
      'ALIVED_CONFIG_CLEARTEXT',
      user.pos,
      `smtp_auth_user: with smtp_tls no, SMTP AUTH would send user '${clip(String(user.value))}' and its password to ${to} in clear; set smtp_tls starttls or tls, or allow it with smtp_auth_cleartext`,
    );
    return;
  }
  ctx.diags.warning(
    'ALIVED_CONFIG_CLEARTEXT',
    allow.pos,
    `smtp_auth_cleartext: SMTP AUTH to ${to} goes over plain TCP: user '${clip(String(user.value))}' and its password (base64, not encrypted) can be read by anyone on the path`,
  );
}

/** `mail { }`: the pipeline's delivery keywords for mail only (retries, age, coalescing). */
export const mailDeliverySchema = block(deliveryFields, { feature: FEATURE });

/** What the notifier is built from: keepalived's global_defs and the keywords above. */
export interface MailConfig {
  readonly server: { host: string; port: number };
  readonly from: string;
  readonly helo: string;
  readonly connectTimeoutMs: number;
  readonly routerId: string;
  readonly recipients: Readonly<Record<MailKind, readonly string[]>>;
  readonly tls: 'no' | 'starttls' | 'tls';
  readonly tlsCa?: string;
  readonly tlsVerify: boolean;
  readonly auth?: { user: string; passwordFile?: string; passwordEnv?: string };
  readonly subjects: Partial<Record<MailKind, string>>;
  readonly bodies: Partial<Record<MailKind, string>>;
  readonly noEmailFaults: boolean;
  readonly delivery?: DeliveryFieldValues;
}

type Ext = { keyword: string; value: unknown };
function ext<T>(list: readonly Ext[] | undefined, keyword: string): T | undefined {
  return list?.find((e) => e.keyword === keyword)?.value as T | undefined;
}

/** keepalived's local name: the host name (router_id, HELO and From default to it) */
function localName(): string {
  return os.hostname() || 'localhost';
}

/** keepalived's default From: <the user alived runs as>@<host name> (set_default_email_from()) */
function defaultFrom(): string {
  let user = 'root';
  try {
    user = os.userInfo().username;
  } catch {
    // no passwd entry
  }
  return `${user}@${localName()}`;
}

/** The mail notifier's config from a model; undefined when keepalived would send no mail (no smtp_server or no recipient). */
export function mailConfigOf(model: ConfigModel): MailConfig | undefined {
  const g = model.globalDefs;
  if (!g?.smtpServer) return undefined;
  const x = g.extensions as Ext[];
  const flat = (v: unknown): string[] | undefined =>
    Array.isArray(v) ? (v as unknown[]).flat(2).filter((s): s is string => typeof s === 'string') : undefined;
  const all = flat(g.notificationEmail) ?? [];
  const recipients = {
    vrrp: flat(ext(x, 'notification_email_vrrp')) ?? all,
    checker: flat(ext(x, 'notification_email_checker')) ?? all,
    quorum: flat(ext(x, 'notification_email_quorum')) ?? all,
  };
  if (!recipients.vrrp.length && !recipients.checker.length && !recipients.quorum.length) return undefined;
  // a repeatable keyword of a plugin: one extension per occurrence (or one array), the last of a kind wins
  const templates = (keyword: string): Partial<Record<MailKind, string>> =>
    Object.fromEntries(
      (x ?? [])
        .filter((e) => e.keyword === keyword)
        .flatMap((e) => (Array.isArray(e.value) ? e.value : [e.value]) as Array<{ kind: MailKind; template: string }>)
        .map((t) => [t.kind, t.template]),
    );
  const user = ext<string>(x, 'smtp_auth_user');
  return {
    server: { host: g.smtpServer.host, port: g.smtpServer.port },
    from: g.notificationEmailFrom ?? defaultFrom(),
    helo: g.smtpHeloName ?? localName(),
    connectTimeoutMs: (g.smtpConnectTimeout ?? 30) * 1000,
    routerId: g.routerId ?? localName(),
    recipients,
    tls: ext<'no' | 'starttls' | 'tls'>(x, 'smtp_tls') ?? 'no',
    ...(ext<string>(x, 'smtp_tls_ca') ? { tlsCa: ext<string>(x, 'smtp_tls_ca') } : {}),
    tlsVerify: ext<boolean>(x, 'smtp_tls_verify') ?? true,
    ...(user ? { auth: { user, passwordFile: ext<string>(x, 'smtp_auth_password_file'), passwordEnv: ext<string>(x, 'smtp_auth_password_env') } } : {}),
    subjects: templates('smtp_subject'),
    bodies: templates('smtp_body'),
    noEmailFaults: g.noEmailFaults === true,
    delivery: ext<DeliveryFieldValues>(model.extensions as Ext[], 'mail'),
  };
}

/** keepalived's smtp_alert of an instance or group: its own, else smtp_alert_vrrp, else smtp_alert, else off */
function vrrpAlerts(model: ConfigModel): Map<string, boolean> {
  const g = model.globalDefs;
  const dflt = g?.smtpAlertVrrp ?? g?.smtpAlert ?? false;
  const m = new Map<string, boolean>();
  for (const i of model.vrrpInstance ?? []) m.set(`instance:${i.name}`, i.smtpAlert ?? dflt);
  for (const s of model.vrrpSyncGroup ?? []) m.set(`group:${s.name}`, s.smtpAlert ?? dflt);
  return m;
}

/** what a mail notifier hands the one that replaces it at a reload */
interface MailState {
  readonly lastEmailState: Map<string, string>;
  readonly alerts: Map<string, boolean>;
  readonly notifyDeleted: Map<string, boolean>;
}

export interface MailNotifier extends Notifier {
  readonly state: MailState;
  /** the message an event becomes (for tests and templates) */
  compose(e: NotifyEvent): MailText;
}

/** Reads the SMTP password; never puts it in a message. */
function password(auth: NonNullable<MailConfig['auth']>): string {
  if (auth.passwordFile) {
    try {
      return fs.readFileSync(auth.passwordFile, 'utf8').split('\n')[0]!.replace(/\r$/, '');
    } catch (err) {
      throw new AlivedError(
        'ALIVED_NOTIFY_SECRET',
        `cannot read smtp_auth_password_file ${auth.passwordFile}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
        { cause: err },
      );
    }
  }
  if (auth.passwordEnv) {
    const v = process.env[auth.passwordEnv];
    if (v === undefined) throw new AlivedError('ALIVED_NOTIFY_SECRET', `the environment variable ${auth.passwordEnv} (smtp_auth_password_env) is not set`);
    return v;
  }
  return '';
}

export function createMailNotifier(cfg: MailConfig, ctx: { log: Logger; model: ConfigModel; previous?: Notifier }): MailNotifier {
  const prev = (ctx.previous as MailNotifier | undefined)?.state;
  const alerts = vrrpAlerts(ctx.model);
  const notifyDeleted = new Map((ctx.model.vrrpInstance ?? []).map((i) => [i.name, Boolean(i.notifyDeleted)] as const));
  // an instance a reload removed keeps the settings it had, for its DELETED / FAULT mail
  for (const [k, v] of prev?.alerts ?? []) if (!alerts.has(k)) alerts.set(k, v);
  for (const [k, v] of prev?.notifyDeleted ?? []) if (!notifyDeleted.has(k)) notifyDeleted.set(k, v);
  const state: MailState = { lastEmailState: prev?.lastEmailState ?? new Map(), alerts, notifyDeleted };
  const host = localName();
  /** a test notification goes to every recipient of every kind, once each */
  const testRecipients = [...new Set([...cfg.recipients.vrrp, ...cfg.recipients.checker, ...cfg.recipients.quorum])];
  let pass: string | undefined;
  if (cfg.auth) {
    try {
      pass = password(cfg.auth);
    } catch (err) {
      // logged now; each delivery fails with the same reason (and is retried: the file may appear)
      ctx.log.error({ code: 'ALIVED_NOTIFY_SECRET' }, (err as Error).message);
    }
  }

  /** the state keepalived mails for an instance event: DELETED without notify_deleted is a FAULT */
  const mailState = (e: Extract<NotifyEvent, { type: 'vrrp' }>): string =>
    e.kind === 'instance' && e.to === 'DELETED' && !state.notifyDeleted.get(e.name) ? 'FAULT' : e.to;

  const compose = (e: NotifyEvent): MailText => {
    // `alived notify test`: keepalived has no such mail; the templates are for keepalived's kinds
    if (e.type === 'test') return { subject: `[alived] test notification from ${host}`, body: e.text };
    const st = e.type === 'vrrp' ? mailState(e) : undefined;
    const text = keepalivedText(e, cfg.routerId, st);
    const kind = kindOf(e);
    const s = kind ? cfg.subjects[kind] : undefined;
    const b = kind ? cfg.bodies[kind] : undefined;
    if (!s && !b) return text;
    const v = vars(e, cfg.routerId, host, text, st);
    return { subject: s ? render(s, v) : text.subject, body: b ? render(b, v) : text.body };
  };

  const transportOptions = (): Record<string, unknown> => ({
    host: cfg.server.host,
    port: cfg.server.port,
    name: cfg.helo,
    secure: cfg.tls === 'tls',
    requireTLS: cfg.tls === 'starttls',
    // keepalived speaks plain SMTP: no STARTTLS unless asked for
    ignoreTLS: cfg.tls === 'no',
    connectionTimeout: cfg.connectTimeoutMs,
    greetingTimeout: cfg.connectTimeoutMs,
    socketTimeout: cfg.connectTimeoutMs,
    tls: {
      rejectUnauthorized: cfg.tlsVerify,
      ...(cfg.tlsCa ? { ca: fs.readFileSync(cfg.tlsCa) } : {}),
      servername: cfg.server.host,
    },
    ...(cfg.auth ? { auth: { user: cfg.auth.user, pass: pass ?? '' } } : {}),
    disableFileAccess: true,
    disableUrlAccess: true,
  });

  return {
    state,
    compose,
    accepts(e: NotifyEvent): boolean {
      if (e.type === 'test') return testRecipients.length > 0;
      const kind = kindOf(e);
      if (!kind || cfg.recipients[kind].length === 0) return false;
      if (e.type !== 'vrrp') return e.type === 'check-alert';
      // vrrp_smtp_notifier() / vrrp_sync_smtp_notifier()
      const key = `${e.kind}:${e.name}`;
      if (!state.alerts.get(key)) return false;
      const st = mailState(e);
      if (!mailsState(e.kind, st)) return false;
      if (cfg.noEmailFaults && st === 'FAULT') return false;
      if (state.lastEmailState.get(key) === st) return false;
      state.lastEmailState.set(key, st);
      return true;
    },
    async deliver(e: NotifyEvent, signal: AbortSignal, info: DeliveryInfo): Promise<void> {
      const kind = kindOf(e);
      const to = kind ? cfg.recipients[kind] : testRecipients;
      if (cfg.auth && pass === undefined) pass = password(cfg.auth);
      const { subject, body } = compose(e);
      // loaded at the first mail: a daemon that sends none does not carry nodemailer
      const nodemailer = require('nodemailer') as typeof Nodemailer;
      const transport = nodemailer.createTransport(transportOptions() as Nodemailer.TransportOptions);
      const onAbort = (): void => transport.close();
      signal.addEventListener('abort', onAbort, { once: true });
      try {
        await transport.sendMail({
          from: cfg.from,
          to: to.join(', '),
          subject,
          // keepalived ends the body with CRLF before the final dot
          text: `${body}\r\n`,
          date: new Date(e.time),
          messageId: `<${info.id}@${cfg.helo}>`,
          xMailer: 'Keepalived',
          headers: { 'X-Alived-Sequence': String(info.sequence) },
        } as Nodemailer.SendMailOptions);
      } catch (err) {
        const code = (err as { responseCode?: number }).responseCode;
        // a 5xx answer (refused recipient, sender, message or credentials) does not change on a retry
        if (typeof code === 'number' && code >= 500 && code < 600)
          throw permanentFailure(`SMTP server ${cfg.server.host}:${cfg.server.port} refused the mail: ${(err as Error).message}`, err);
        if (signal.aborted) throw signal.reason ?? err;
        throw new AlivedError('ALIVED_NOTIFY_RETRY', `SMTP server ${cfg.server.host}:${cfg.server.port}: ${(err as Error).message}`, { cause: err });
      } finally {
        signal.removeEventListener('abort', onAbort);
        transport.close();
      }
    },
  };
}

const plugin: AlivedPlugin = {
  name: PLUGIN_NAME,
  version: ALIVED_VERSION,
  alived: `>=${ALIVED_VERSION}`,
  apply(api) {
    for (const [k, kw] of Object.entries(mailKeywords)) api.registerKeyword('global_defs', k, kw);
    api.registerBlockCheck('global_defs', checkAuthOverTls);
    api.registerNotifier<{ name?: string } & DeliveryFieldValues>({
      // `mail { }` at the top level: delivery settings for mail only; the mail itself is configured in global_defs (keepalived's keywords)
      keyword: 'mail',
      schema: mailDeliverySchema as never,
      configure(model) {
        const cfg = mailConfigOf(model);
        return cfg ? [{ name: 'keepalived', config: cfg as never }] : [];
      },
      create(config, ctx) {
        const cfg = config as unknown as MailConfig;
        return createMailNotifier(cfg, ctx);
      },
      delivery(config) {
        const cfg = config as unknown as MailConfig;
        // keepalived's smtp_connect_timeout bounds one attempt (connect, greeting and each answer), plus a margin for the dialogue
        return { attemptTimeoutMs: cfg.connectTimeoutMs * 2, ...deliveryOptionsOf(cfg.delivery) };
      },
    });
  },
};
export default plugin;
