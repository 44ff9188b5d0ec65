import type { InstanceSettings } from '../vrrp/settings';
import type { TrackerStatus } from '../track/service';
import { trackerKey } from '../vrrp/tracking';
import type { Cause, TrackerOfInstance } from './types';

/*
 * Causes, as words and as structure: what the VRRP process says of a
 * transition, joined to what the main process knows (the trackers' last
 * results, the settings' weights, the master last heard), so that "why is
 * this node BACKUP" reads as one chain:
 *
 *   BACKUP because tracker chk_nginx failed (exit 1: "connection refused")
 *     -> priority 150 - 60 = 90 < 10.0.0.12's 100
 */

const PRIORITY_OWNER = 255;
const MIN_PRIORITY = 1;
const MAX_TRACKED = 254;
const FILE_FAULT = -254;
const FILE_CAP = 253;

/** Each tracker of an instance with its state and what it does to the priority now (keepalived's rules, core/vrrp/tracking.ts). */
export function instanceTrackers(s: Pick<InstanceSettings, 'tracks'>, trackers: ReadonlyMap<string, TrackerStatus>): TrackerOfInstance[] {
  return s.tracks.map((t) => {
    const st = trackers.get(trackerKey(t.type, t.name));
    const m = t.reverse ? -1 : 1;
    let effect: number | 'fault' = 0;
    if (st && !st.disabled && st.up !== undefined) {
      if (typeof st.value === 'number') {
        const status = t.weight === 0 ? ((st.value !== 0) === (m === 1) ? FILE_FAULT : 0) : st.value * t.weight * m;
        effect = status <= FILE_FAULT ? 'fault' : Math.min(status, FILE_CAP);
      } else if (t.weight === 0) effect = st.up !== (m === 1) ? 'fault' : 0;
      else if (st.up ? t.weight > 0 : t.weight < 0) effect = t.weight * m;
    }
    return {
      type: t.type,
      name: t.name,
      weight: t.weight,
      reverse: t.reverse === true,
      state: !st ? 'unknown' : st.disabled ? 'disabled' : st.up === undefined ? 'unknown' : st.up ? 'up' : 'down',
      value: st?.value ?? null,
      lastResult: st?.message ?? null,
      since: st?.since ?? null,
      effect,
    };
  });
}

/**
 * A tracker's state as a cause: `tracker chk_nginx failed (exit 1: "connection refused")`.
 * Its weight and effect are an instance's: given for a tracker of an instance, left out otherwise.
 */
export function trackerCause(
  t: Pick<TrackerOfInstance, 'type' | 'name' | 'state' | 'value' | 'lastResult'> & Partial<Pick<TrackerOfInstance, 'weight' | 'effect'>>,
): Cause {
  const what = t.type === 'vrrp_script' ? `tracker ${t.name}` : `${t.type} ${t.name}`;
  const verb = t.state === 'up' ? 'succeeded' : t.state === 'down' ? 'failed' : t.state === 'disabled' ? 'is disabled' : 'has not reported yet';
  const value = t.value !== null ? ` with ${t.value}` : '';
  const said = t.lastResult ? ` (${t.lastResult})` : '';
  return {
    kind: 'tracker',
    text: `${what} ${verb}${value}${said}`,
    facts: {
      type: t.type,
      name: t.name,
      state: t.state,
      ...(t.weight !== undefined ? { weight: t.weight } : {}),
      ...(t.effect !== undefined ? { effect: t.effect } : {}),
      value: t.value,
      result: t.lastResult,
    },
  };
}

/**
 * Why the effective priority differs from the base one: `priority 150 - 60
 * = 90`, because of the trackers that move it (the first one that lowers
 * it, else the first one that raises it). Null when nothing moves it.
 */
export function priorityCause(base: number, effective: number, trackers: readonly TrackerOfInstance[]): Cause | null {
  const moving = trackers.filter((t) => typeof t.effect === 'number' && t.effect !== 0);
  if (base === effective) return null;
  if (base === PRIORITY_OWNER) return null;
  const term = (n: number, what = ''): string => (n < 0 ? ` - ${-n}` : ` + ${n}`) + what;
  let terms = moving.map((t) => term(t.effect as number)).join('');
  let sum = base + moving.reduce((a, t) => a + (t.effect as number), 0);
  // what the trackers do not explain is the tracked interfaces' weights (their links are the VRRP process's to know)
  if (sum !== effective && effective > MIN_PRIORITY && effective < MAX_TRACKED) {
    terms += term(effective - sum, ' (tracked interfaces)');
    sum = effective;
  }
  const clamped = sum !== effective ? ` (kept within ${MIN_PRIORITY}..${MAX_TRACKED})` : '';
  const lead = moving.find((t) => (t.effect as number) < 0) ?? moving[0];
  return {
    kind: 'priority',
    text: `priority ${base}${terms} = ${effective}${clamped}`,
    facts: { base, effective, trackers: moving.map((t) => t.name).join(',') },
    ...(lead ? { because: trackerCause(lead) } : {}),
  };
}

export interface TransitionContext {
  /** the instance's priority cause now (null: base priority) */
  readonly priority: Cause | null;
  readonly effectivePriority: number;
  /** the master as last heard before the transition */
  readonly master?: { readonly address: string; readonly priority: number };
  readonly trackers: readonly TrackerOfInstance[];
}

const HIGHER = /^Master received advert from (\S+) with higher priority (\d+), ours (\d+)$/;
const SAME = /^Master received advert from (\S+) with same priority (\d+) but higher IP address than ours$/;
const MASTER_DOWN = /^no advert for Master_Down_Interval \((\S+) ms\)$/;
const SKEW = /^the master left \(priority 0\); Skew_Time (\S+) ms passed$/;
const TRACKED_FAULT = /^(\S+) (\S+) (failed|succeeded \(reverse\))$/;
const TRACKED_STATUS = /^tracked (\S+) (\S+) has status (-?\d+)$/;

/**
 * The cause of a transition to `to`, from the reason the state machine gave
 * and what is known around it. Reasons it does not know become `other`
 * causes with the machine's words.
 */
export function transitionCause(to: string, reason: string, ctx: TransitionContext): Cause {
  let m: RegExpExecArray | null;
  if ((m = HIGHER.exec(reason))) {
    const [, from, prio, ours] = m;
    return {
      kind: 'advert',
      text: `${from}'s ${prio}`,
      facts: { from: from!, priority: Number(prio), ours: Number(ours) },
      ...(ctx.priority ? { because: ctx.priority } : {}),
    };
  }
  if ((m = SAME.exec(reason))) {
    const [, from, prio] = m;
    return {
      kind: 'advert',
      text: `${from} has the same priority ${prio} and a higher address`,
      facts: { from: from!, priority: Number(prio), ours: Number(prio) },
    };
  }
  if ((m = MASTER_DOWN.exec(reason)) || (m = SKEW.exec(reason))) {
    const skew = SKEW.test(reason);
    const last = ctx.master;
    const preempt = !skew && last && last.priority < ctx.effectivePriority;
    const text = skew
      ? `the master ${last ? `${last.address} ` : ''}left (it sent priority 0); Skew_Time ${m[1]} ms passed`
      : preempt
        ? `preempting ${last.address}, whose priority ${last.priority} is lower than our ${ctx.effectivePriority}`
        : `no advert from ${last ? `the master ${last.address}` : 'any master'} for Master_Down_Interval (${m[1]} ms)`;
    return {
      kind: 'master-down',
      text,
      facts: { intervalMs: Number(m[1]), lastMaster: last?.address ?? null, lastMasterPriority: last?.priority ?? null, ours: ctx.effectivePriority },
      ...(preempt && ctx.priority ? { because: ctx.priority } : {}),
    };
  }
  if ((m = TRACKED_FAULT.exec(reason)) || (m = TRACKED_STATUS.exec(reason))) {
    const t = ctx.trackers.find((x) => x.type === m![1] && x.name === m![2]);
    return { kind: 'fault', text: reason, facts: { tracker: m[2]! }, ...(t ? { because: trackerCause(t) } : {}) };
  }
  if (/^(tracked )?interface \S+/.test(reason)) return { kind: 'interface', text: reason };
  if (/cannot be put back/.test(reason)) return { kind: 'vip', text: reason };
  if (/^sync group|sync group/.test(reason)) return { kind: 'sync-group', text: reason };
  if (reason === 'init') return { kind: 'start', text: 'started as backup (init)' };
  if (reason.startsWith('resumed:')) return { kind: 'vrrp-process', text: reason };
  if (reason.startsWith('address owner')) return { kind: 'start', text: reason };
  if (reason === 'stopped' || reason === 'removed by reload') return { kind: reason === 'stopped' ? 'stop' : 'reload', text: reason };
  return { kind: 'other', text: reason || to.toLowerCase() };
}

/**
 * The why of an instance's state now, for the status. A backup that hears a
 * master is backup because of that master (and whatever lowered its own
 * priority); otherwise the last transition's cause stands.
 */
export function stateCause(
  state: string,
  last: Cause | null,
  ctx: TransitionContext & { readonly fault: string | null; readonly waiting: readonly string[]; readonly nopreempt?: boolean },
): Cause | null {
  if (state === 'BACKUP' && ctx.master) {
    const { address, priority } = ctx.master;
    const ours = ctx.effectivePriority;
    if (priority > ours || (priority === ours && last?.kind === 'advert')) {
      return {
        kind: 'advert',
        text: `${address}'s ${priority}`,
        facts: { from: address, priority, ours },
        ...(ctx.priority ? { because: ctx.priority } : {}),
      };
    }
    if (priority < ours && ctx.nopreempt) {
      return { kind: 'config', text: `nopreempt: ${address} stays master with priority ${priority} < our ${ours}`, facts: { from: address, priority, ours } };
    }
  }
  if (state === 'FAULT' && ctx.fault) return transitionCause('FAULT', ctx.fault, ctx);
  if (state === 'INIT' && ctx.waiting.length > 0) return { kind: 'tracker', text: `waiting for ${ctx.waiting.join(', ')} to report` };
  return last;
}

/**
 * A cause chain as one line, root first: `tracker chk_nginx failed (exit 1)
 * -> priority 150 - 60 = 90 < 10.0.0.12's 100`. An advert that follows our
 * priority reads as a comparison with it.
 */
export function causeLine(cause: Cause): string {
  const chain: Cause[] = [];
  for (let c: Cause | undefined = cause; c && chain.length < 16; c = c.because) chain.unshift(c);
  let out = '';
  for (let i = 0; i < chain.length; i++) {
    const c = chain[i]!;
    const prev = chain[i - 1];
    if (c.kind === 'advert' && prev?.kind === 'priority' && /^\S+'s \d+$/.test(c.text)) out += ` < ${c.text}`;
    else if (c.kind === 'advert' && /^\S+'s \d+$/.test(c.text)) out += `${out ? ' -> ' : ''}priority ${String(c.facts?.ours)} < ${c.text}`;
    else out += `${out ? ' -> ' : ''}${c.text}`;
  }
  return out;
}

/** `BACKUP because ...` */
export function explain(state: string, cause: Cause | null): string {
  return cause ? `${state} because ${causeLine(cause)}` : state;
}
