import { describeEvent, eventPreviousState, eventSource, eventState, formatService, type DeliveryInfo, type NotifyEvent } from '../../core/sdk';

/**
 * What a webhook receives. `format json` (the default) is alived's own
 * schema, `alived.notify/v1`, documented in docs/notify.md; `slack` and
 * `teams` render one readable message for an incoming webhook of those tools.
 */

export const SCHEMA = 'alived.notify/v1';

export type WebhookEventClass = 'vrrp' | 'checker' | 'quorum' | 'daemon';
export const EVENT_CLASSES: readonly WebhookEventClass[] = ['vrrp', 'checker', 'quorum', 'daemon'];

/** the class an event belongs to for `events ...`; the checks' smtp_alerts are mail's and have none */
export function classOf(e: NotifyEvent): WebhookEventClass | undefined {
  switch (e.type) {
    case 'vrrp':
    case 'vip':
      return 'vrrp';
    case 'real-server':
      return 'checker';
    case 'quorum':
      return 'quorum';
    case 'daemon':
      return 'daemon';
    case 'flapping':
      return classOf(e.first);
    default:
      return undefined;
  }
}

export interface Subject {
  readonly type: 'instance' | 'group' | 'real_server' | 'virtual_server' | 'daemon';
  readonly name: string;
  readonly virtual_server?: string;
  readonly real_server?: string;
}

export interface JsonPayload {
  readonly schema: typeof SCHEMA;
  readonly id: string;
  readonly sequence: number;
  /** a webhook accepts no priority, master-rx-lower-pri or vrrp-state event (classOf()); the payload can still say them */
  readonly kind: 'vrrp' | 'real-server' | 'quorum' | 'vip' | 'daemon' | 'flapping' | 'priority' | 'master-rx-lower-pri' | 'vrrp-state' | 'test';
  readonly time: string;
  readonly accepted_at: string;
  readonly attempt: number;
  readonly host: string;
  readonly router_id: string;
  readonly source: string;
  readonly subject: Subject;
  readonly old_state: string | null;
  readonly new_state: string;
  readonly priority: number | null;
  readonly reason: string | null;
  readonly summary: string;
  readonly details: Record<string, unknown>;
}

function subjectOf(e: NotifyEvent): Subject {
  switch (e.type) {
    case 'vrrp':
      return { type: e.kind, name: e.name };
    case 'real-server': {
      const rs = formatService(e.realServer.address, e.realServer.port, e.realServer.protocol);
      return { type: 'real_server', name: rs, virtual_server: e.virtualServer, real_server: rs };
    }
    case 'quorum':
      return { type: 'virtual_server', name: e.virtualServer, virtual_server: e.virtualServer };
    case 'check-alert':
      return e.kind === 'real-server'
        ? { type: 'real_server', name: e.service ?? '', virtual_server: e.virtualServer, ...(e.service ? { real_server: e.service } : {}) }
        : { type: 'virtual_server', name: e.virtualServer, virtual_server: e.virtualServer };
    case 'vip':
    case 'priority':
    case 'master-rx-lower-pri':
      return { type: 'instance', name: e.instance };
    case 'vrrp-state':
      return { type: e.kind, name: e.name };
    case 'flapping':
      return subjectOf(e.last);
    case 'daemon':
    case 'test':
      return { type: 'daemon', name: 'alived' };
  }
}

function detailsOf(e: NotifyEvent): Record<string, unknown> {
  switch (e.type) {
    case 'vrrp':
      return {};
    case 'real-server':
      return { weight: e.weight, address: e.realServer.address, port: e.realServer.port, protocol: e.realServer.protocol ?? null };
    case 'quorum':
      return { alive: e.alive, quorum: e.quorum };
    case 'check-alert':
      return { message: e.message, checker: e.checker ?? null };
    case 'vip':
      return { address: e.address, action: e.action };
    case 'priority':
      return { state: e.state };
    case 'master-rx-lower-pri':
      return { priority: e.priority, advert_priority: e.advertPriority, sender: e.sender };
    case 'vrrp-state':
      return {};
    case 'flapping':
      return { count: e.count, states: e.states, span_ms: e.spanMs };
    case 'daemon':
    case 'test':
      return {};
  }
}

export function jsonPayload(e: NotifyEvent, info: DeliveryInfo, host: string, routerId: string): JsonPayload {
  const base = e.type === 'flapping' ? e.last : e;
  return {
    schema: SCHEMA,
    id: info.id,
    sequence: info.sequence,
    kind: e.type === 'check-alert' ? 'real-server' : e.type,
    time: new Date(e.time).toISOString(),
    accepted_at: new Date(info.acceptedAt).toISOString(),
    attempt: info.attempt,
    host,
    router_id: routerId,
    source: eventSource(e),
    subject: subjectOf(e),
    old_state: eventPreviousState(e) ?? null,
    new_state: eventState(e),
    priority: base.type === 'vrrp' ? base.priority : null,
    reason: base.type === 'vrrp' || base.type === 'real-server' || base.type === 'vip' ? base.reason : null,
    summary: `[${routerId}] ${describeEvent(e)}`,
    details: detailsOf(e),
  };
}

const GOOD = new Set(['MASTER', 'UP', 'start', 'reload']);
const BAD = new Set(['FAULT', 'DOWN', 'STOP', 'DELETED', 'stop', 'lost']);

function mood(e: NotifyEvent): 'good' | 'bad' | 'neutral' {
  if (e.type === 'flapping') return 'bad';
  const s = eventState(e);
  return GOOD.has(s) ? 'good' : BAD.has(s) ? 'bad' : 'neutral';
}

/** Slack incoming webhook: one line of mrkdwn, with a fallback text for notifications */
export function slackPayload(p: JsonPayload, e: NotifyEvent): Record<string, unknown> {
  if (e.type === 'test') {
    return {
      text: p.summary,
      blocks: [
        { type: 'section', text: { type: 'mrkdwn', text: `:white_check_mark: *[${p.router_id}] alived*: ${e.text}` } },
        { type: 'context', elements: [{ type: 'mrkdwn', text: `${p.host} · ${p.time}` }] },
      ],
    };
  }
  const icon = { good: ':large_green_circle:', bad: ':red_circle:', neutral: ':large_yellow_circle:' }[mood(e)];
  const change = p.old_state ? `${p.old_state} → *${p.new_state}*` : `*${p.new_state}*`;
  const what =
    e.type === 'flapping'
      ? `flapping: ${e.count} changes (${e.states.join(' → ')}), now *${p.new_state}*`
      : e.type === 'vip'
        ? `${e.address} ${change}`
        : change;
  const line = `${icon} *[${p.router_id}] ${title(p)}*: ${what}${p.priority !== null && p.subject.type === 'instance' ? ` (priority ${p.priority})` : ''}`;
  return {
    text: p.summary,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: line } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: `${p.host} · ${p.time}${p.reason ? ` · ${p.reason}` : ''} · #${p.sequence}` }] },
    ],
  };
}

/** Microsoft Teams incoming webhook: a MessageCard with the facts */
export function teamsPayload(p: JsonPayload, e: NotifyEvent): Record<string, unknown> {
  const color = { good: '2EB886', bad: 'D00000', neutral: 'DAA038' }[mood(e)];
  if (e.type === 'test') {
    const facts = [
      { name: 'Host', value: p.host },
      { name: 'Time', value: p.time },
    ];
    return {
      '@type': 'MessageCard',
      '@context': 'https://schema.org/extensions',
      summary: p.summary,
      themeColor: '0078D7',
      title: `[${p.router_id}] alived`,
      text: e.text,
      sections: [{ facts }],
    };
  }
  const facts = [
    { name: 'State', value: p.old_state ? `${p.old_state} → ${p.new_state}` : p.new_state },
    ...(p.priority !== null && p.subject.type === 'instance' ? [{ name: 'Priority', value: String(p.priority) }] : []),
    ...(p.reason ? [{ name: 'Reason', value: p.reason }] : []),
    { name: 'Host', value: p.host },
    { name: 'Time', value: p.time },
    { name: 'Sequence', value: String(p.sequence) },
  ];
  return {
    '@type': 'MessageCard',
    '@context': 'https://schema.org/extensions',
    summary: p.summary,
    themeColor: color,
    title: `[${p.router_id}] ${title(p)}`,
    text: describeEvent(e),
    sections: [{ facts }],
  };
}

function title(p: JsonPayload): string {
  switch (p.subject.type) {
    case 'instance':
      return `VRRP instance ${p.subject.name}`;
    case 'group':
      return `VRRP sync group ${p.subject.name}`;
    case 'real_server':
      return `Real server ${p.subject.name} of ${p.subject.virtual_server}`;
    case 'virtual_server':
      return `Virtual server ${p.subject.name}`;
    case 'daemon':
      return 'alived';
  }
}
