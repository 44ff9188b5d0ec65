import { formatService, nearest, type NotifyEvent } from '../../core/sdk';

/**
 * keepalived 2.2.8's mails (keepalived/core/smtp.c smtp_alert(),
 * vrrp/vrrp_notify.c vrrp_smtp_notifier() and vrrp_sync_smtp_notifier(),
 * check/ipwrapper.c): subjects, bodies, and the template variables alived
 * adds.
 */

export type MailKind = 'vrrp' | 'checker' | 'quorum';
export const MAIL_KINDS: readonly MailKind[] = ['vrrp', 'checker', 'quorum'];

/** keepalived's `subject` argument and body for a VRRP instance entering a state */
const INSTANCE_TEXT: Record<string, [string, string]> = {
  MASTER: ['Entering MASTER state', '=> VRRP Instance is now owning VRRP VIPs <='],
  BACKUP: ['Entering BACKUP state', '=> VRRP Instance is no longer owning VRRP VIPs <='],
  FAULT: ['Entering FAULT state', '=> VRRP Instance is no longer owning VRRP VIPs <='],
  STOP: ['Stopping', '=> VRRP Instance stopping <='],
  DELETED: ['Deleted', '=> VRRP Deleted at reload <='],
};

const GROUP_TEXT: Record<string, [string, string]> = {
  MASTER: ['Entering MASTER state', '=> All VRRP group instances are now in MASTER state <='],
  BACKUP: ['Entering BACKUP state', '=> All VRRP group instances are now in BACKUP state <='],
  FAULT: ['Entering FAULT state', '=> All VRRP group instances are now in FAULT state <='],
  STOP: ['Stopping', '=> All VRRP group instances are now stopping <='],
};

/** the states keepalived mails for an instance (DELETED only with notify_deleted; else it is a FAULT) and a group */
export function mailsState(kind: 'instance' | 'group', state: string): boolean {
  return (kind === 'group' ? GROUP_TEXT : INSTANCE_TEXT)[state] !== undefined;
}

export function kindOf(e: NotifyEvent): MailKind | undefined {
  switch (e.type) {
    case 'vrrp':
      return 'vrrp';
    case 'check-alert':
      return e.kind === 'real-server' ? 'checker' : 'quorum';
    case 'flapping':
      return kindOf(e.first);
    default:
      return undefined;
  }
}

export interface MailText {
  readonly subject: string;
  readonly body: string;
}

/** The variables a template may use; `vars()` gives their values for one event. */
export const TEMPLATE_VARIABLES = [
  'router_id',
  'host',
  'kind',
  'type',
  'name',
  'from',
  'to',
  'state',
  'priority',
  'reason',
  'virtual_server',
  'real_server',
  'checker',
  'message',
  'time',
  'count',
  'subject',
  'body',
] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

/**
 * keepalived's subject and body for an event (the `state` of an instance
 * event already turned into FAULT for a DELETED without notify_deleted).
 */
export function keepalivedText(e: NotifyEvent, routerId: string, state?: string): MailText {
  const prefix = routerId ? `[${routerId}] ` : '';
  switch (e.type) {
    case 'vrrp': {
      const s = state ?? e.to;
      const [what, body] = (e.kind === 'group' ? GROUP_TEXT : INSTANCE_TEXT)[s] ?? [s, `=> ${s} <=`];
      return { subject: `${prefix}VRRP ${e.kind === 'group' ? 'Group' : 'Instance'} ${e.name} - ${what}`, body };
    }
    case 'check-alert':
      if (e.kind === 'real-server')
        return { subject: `${prefix}Realserver ${e.service ?? '?'} of virtual server ${e.virtualServer} - ${e.state}`, body: e.message };
      return { subject: `${prefix}Virtualserver ${e.virtualServer} - ${e.state}`, body: e.message };
    case 'flapping': {
      const last = keepalivedText(e.last, routerId);
      const head = last.subject.replace(/ - [^-]*$/, '');
      return {
        subject: `${head} - flapping: ${e.count} more changes in ${Math.max(1, Math.round(e.spanMs / 1000))} s, last ${e.states[e.states.length - 1]}`,
        body: `=> ${e.count} state changes were summed up: ${e.states.join(' -> ')} <=\n${last.body}`,
      };
    }
    default:
      return { subject: `${prefix}${e.type}`, body: '' };
  }
}

export function vars(e: NotifyEvent, routerId: string, host: string, text: MailText, state?: string): Record<TemplateVariable, string> {
  const v: Record<TemplateVariable, string> = {
    router_id: routerId,
    host,
    kind: kindOf(e) ?? e.type,
    type: '',
    name: '',
    from: '',
    to: '',
    state: '',
    priority: '',
    reason: '',
    virtual_server: '',
    real_server: '',
    checker: '',
    message: text.body,
    time: new Date(e.time).toISOString(),
    count: '1',
    subject: text.subject,
    body: text.body,
  };
  const base = e.type === 'flapping' ? e.last : e;
  if (e.type === 'flapping') v.count = String(e.count);
  switch (base.type) {
    case 'vrrp':
      Object.assign(v, {
        type: base.kind,
        name: base.name,
        from: base.from,
        to: state ?? base.to,
        state: state ?? base.to,
        priority: String(base.priority),
        reason: base.reason,
      });
      break;
    case 'check-alert':
      Object.assign(v, {
        type: base.kind === 'real-server' ? 'real_server' : 'virtual_server',
        name: base.kind === 'real-server' ? (base.service ?? '') : base.virtualServer,
        // a checker that changed while its server did not (another checker still fails) leaves the server as it was
        from: base.checkerState !== undefined && base.checkerState !== base.state ? base.state : base.state === 'UP' ? 'DOWN' : 'UP',
        to: base.state,
        state: base.state,
        virtual_server: base.virtualServer,
        real_server: base.service ?? (base.realServer ? formatService(base.realServer.address, base.realServer.port, base.realServer.protocol) : ''),
        checker: base.checker ?? '',
        message: base.message,
      });
      break;
    default:
      break;
  }
  return v;
}

/** `{name}` -> its value; `{{` and `}}` are literal braces. */
export function render(template: string, values: Record<string, string>): string {
  return template.replace(/\{\{|\}\}|\{([a-z_]+)\}/g, (m, name: string | undefined) => {
    if (m === '{{') return '{';
    if (m === '}}') return '}';
    return values[name!] ?? m;
  });
}

/** The first problem of a template: an unknown variable (with the nearest known one) or a stray brace. */
export function templateProblem(template: string): string | undefined {
  const rest = template.replace(/\{\{|\}\}/g, '');
  for (const m of rest.matchAll(/\{([^{}]*)\}/g)) {
    const name = m[1]!;
    if (!(TEMPLATE_VARIABLES as readonly string[]).includes(name)) {
      const near = nearest(name, TEMPLATE_VARIABLES);
      return `unknown variable '{${name}}'${near ? ` (did you mean '{${near}}'?)` : ''}; known: ${TEMPLATE_VARIABLES.map((x) => `{${x}}`).join(' ')}`;
    }
  }
  const stray = rest.replace(/\{[^{}]*\}/g, '');
  if (/[{}]/.test(stray)) return "a '{' or '}' that is not part of a {variable}: write '{{' or '}}' for a brace";
  return undefined;
}
