import { compareAddresses } from './packet';
import { newCounters, type Clock, type TimerHandle, type VrrpCounters, type VrrpState, type VrrpVersion } from './types';

/**
 * The state machine of one VRRP instance: RFC 5798 section 6.4 as keepalived
 * 2.2.8 runs it (vrrp_state_backup() and vrrp_state_master_rx() in
 * keepalived/vrrp/vrrp.c, the timers of vrrp_scheduler.c). Pure: it is told
 * about adverts that passed checkAdvert(), fault and priority changes, and
 * time through a Clock; it acts only through MachineEffects.
 *
 * Times are kept in microseconds with keepalived's integer arithmetic, so a
 * takeover happens at the same instant as keepalived's (v3 at advert_int 0.1
 * has a Skew_Time of 60.937 ms, not 60.9375), and handed to the clock in
 * milliseconds, fractions included.
 */

export const PRIORITY_OWNER = 255;
/** a master leaving says so with priority 0 */
export const PRIORITY_STOP = 0;
export const DEFAULT_DOWN_TIMER_ADVERTS = 3;

const US_PER_MS = 1000;
const US_PER_CS = 10_000;
const US_PER_S = 1_000_000;

/**
 * Skew_Time in microseconds, as keepalived's VRRP_TIMER_SKEW (vrrp.h):
 * v2 (256 - priority) / 256 s; v3 ((256 - priority) x Master_Adver_Interval) / 256.
 */
export function skewTimeUs(version: VrrpVersion, priority: number, masterAdvertIntCs: number): number {
  const n = 256 - priority;
  return version === 3 ? Math.floor((n * masterAdvertIntCs * 625) / 16) : Math.floor((n * US_PER_S) / 256);
}

/** Master_Down_Interval in microseconds: downTimerAdverts x Master_Adver_Interval + Skew_Time (VRRP_MS_DOWN_TIMER). */
export function masterDownIntervalUs(version: VrrpVersion, priority: number, masterAdvertIntCs: number, downTimerAdverts = DEFAULT_DOWN_TIMER_ADVERTS): number {
  return downTimerAdverts * masterAdvertIntCs * US_PER_CS + skewTimeUs(version, priority, masterAdvertIntCs);
}

export interface MachineOptions {
  name: string;
  version: VrrpVersion;
  /** effective priority 1..255 (255 = address owner) */
  priority: number;
  /** configured advert interval, centiseconds */
  advertIntCs: number;
  /**
   * keepalived's `state`. Only the address owner (255) starting as MASTER
   * skips the election; below 255, MASTER starts in BACKUP like BACKUP does
   * (keepalived 2.2.8 vrrp_init_state()), and forces preempt without delay.
   */
  initialState: 'MASTER' | 'BACKUP';
  /** false with nopreempt (ignored at priority 255 and with initialState MASTER, as keepalived clears it there) */
  preempt: boolean;
  /** 0 = none; ignored without preempt and with initialState MASTER */
  preemptDelayMs: number;
  /** our primary address on the link (tie-break: higher wins) */
  localAddress: string;
  /** vrrp_down_timer_adverts / down_timer_adverts, 1..100; default 3 */
  downTimerAdverts?: number;
  /** lower_prio_no_advert: a master does not answer a lower-priority advert with one of its own */
  lowerPrioNoAdvert?: boolean;
  /** higher_prio_send_advert: a master sends an advert before yielding to a higher-priority one */
  higherPrioSendAdvert?: boolean;
  clock: Clock;
}

/** An advert as the machine needs it; it already passed checkAdvert(). */
export interface ReceivedAdvert {
  priority: number;
  advertIntCs: number;
  /** the sender's address */
  src: string;
  /**
   * clock ms when the packet was read, before it was parsed and checked: the
   * timers it restarts count from then, as keepalived's count from its
   * wake-up (time_now). Default: when onAdvert is called.
   */
  at?: number;
}

/**
 * What the machine does to the world. Effects must not throw: the machine has
 * already changed state and armed its timers when it calls them (so a failing
 * send cannot stop the advert cadence), and it does not catch.
 */
export interface MachineEffects {
  /** every advert, including priority 0 */
  sendAdvert(priority: number, advertIntCs: number): void;
  /** add the VIPs and announce them; called on entering MASTER, just before its first advert (keepalived adds them, then sends) */
  becomeMaster(): void;
  /** remove the VIPs; called when leaving MASTER (to BACKUP, FAULT or STOP) */
  leaveMaster(): void;
  /** after the state changed and the VIPs were handled: logs and notifications */
  transition(from: VrrpState, to: VrrpState, reason: string): void;
  /** a master heard a lower-priority advert (keepalived's notify_master_rx_lower_pri) */
  rxLowerPriority?(adv: ReceivedAdvert): void;
  /** the same, before the master answers it (keepalived syncs the IPsec AH sequence number there) */
  rxLowerPriorityFirst?(adv: ReceivedAdvert): void;
  /** a log-worthy event that changes no state, worded as keepalived logs it */
  note?(message: string): void;
  /** a master's advert timer fired, `lateMs` after the advert was due */
  advertLate?(lateMs: number): void;
  /**
   * A backup whose down timer ran out asks this before it becomes master
   * (keepalived's vrrp_sync_can_goto_master): false holds it in BACKUP,
   * wanting MASTER, with a fresh Master_Down_Interval.
   */
  canBecomeMaster?(): boolean;
}

type DownTimerKind = 'master-down' | 'skew';

export class VrrpMachine {
  private readonly name: string;
  private readonly version: VrrpVersion;
  private readonly advertIntCs: number;
  private readonly initialState: 'MASTER' | 'BACKUP';
  private preempt: boolean;
  private preemptDelayMs: number;
  private localAddress: string;
  private readonly downTimerAdverts: number;
  private lowerPrioNoAdvert: boolean;
  private higherPrioSendAdvert: boolean;
  private readonly clock: Clock;

  private current: VrrpState = 'INIT';
  private prio: number;
  private masterIntCs: number;
  private timer: TimerHandle | undefined;
  /** the timers' callbacks, made once: a master arms its advert timer at every advert */
  private readonly advertTimerFired = (): void => this.onAdvertTimer();
  private readonly downTimerFired = (): void => this.onDownTimer();
  /** when the running timer fires, clock ms (keepalived's sands) */
  private deadline = 0;
  /** length of the running BACKUP timer in µs (keepalived's ms_down_timer) and what it waits for */
  private downTimerUs = 0;
  private downTimerKind: DownTimerKind = 'master-down';
  /** clock ms from which a lower-priority master may be preempted; undefined until one is heard (keepalived's preempt_time) */
  private preemptAt: number | undefined;
  private lastMaster: { address: string; priority: number } | undefined;
  private faulty = false;
  /** a backup whose down timer ran out while its sync group held it back */
  private wantMaster = false;

  constructor(
    options: MachineOptions,
    private readonly effects: MachineEffects,
    private readonly counters: VrrpCounters,
  ) {
    checkInt(`(${options.name}) priority`, options.priority, 1, PRIORITY_OWNER);
    // what the advert can carry: v2 one byte of seconds, v3 12 bits of centiseconds
    checkInt(`(${options.name}) advert interval (cs)`, options.advertIntCs, 1, options.version === 2 ? 25_500 : 0x0fff);
    const downTimerAdverts = options.downTimerAdverts ?? DEFAULT_DOWN_TIMER_ADVERTS;
    checkInt(`(${options.name}) down timer adverts`, downTimerAdverts, 1, 100);
    if (!(options.preemptDelayMs >= 0)) throw new RangeError(`(${options.name}) preempt delay must be 0 or more ms, not ${options.preemptDelayMs}`);
    this.name = options.name;
    this.version = options.version;
    this.advertIntCs = options.advertIntCs;
    this.initialState = options.initialState;
    this.localAddress = options.localAddress;
    this.downTimerAdverts = downTimerAdverts;
    this.lowerPrioNoAdvert = options.lowerPrioNoAdvert ?? false;
    this.higherPrioSendAdvert = options.higherPrioSendAdvert ?? false;
    this.clock = options.clock;
    this.prio = options.priority;
    this.masterIntCs = options.advertIntCs;
    // vrrp_complete_instance(): the owner and a `state MASTER` instance always preempt, the latter without delay
    let nopreempt = !options.preempt;
    let delay = options.preemptDelayMs;
    if (options.priority === PRIORITY_OWNER) nopreempt = false;
    if (options.initialState === 'MASTER') {
      nopreempt = false;
      delay = 0;
    }
    if (nopreempt) delay = 0;
    this.preempt = !nopreempt;
    this.preemptDelayMs = delay;
  }

  get state(): VrrpState {
    return this.current;
  }

  get priority(): number {
    return this.prio;
  }

  /** Master_Down_Interval for the current priority and master advert interval */
  get masterDownIntervalMs(): number {
    return masterDownIntervalUs(this.version, this.prio, this.masterIntCs, this.downTimerAdverts) / US_PER_MS;
  }

  get skewMs(): number {
    return skewTimeUs(this.version, this.prio, this.masterIntCs) / US_PER_MS;
  }

  /** the master's advert interval, adopted from its adverts in v3; our own in v2 and as master */
  get masterAdvertIntCs(): number {
    return this.masterIntCs;
  }

  /** the last master heard (also a lower-priority one about to be preempted); undefined before any */
  get master(): { address: string; priority: number } | undefined {
    return this.lastMaster ? { ...this.lastMaster } : undefined;
  }

  /** INIT -> MASTER for an owner starting as MASTER, FAULT when a fault is already set, BACKUP otherwise. Only acts in INIT. */
  /**
   * The address our adverts leave from, once the interface is known (it
   * breaks priority ties). The engine learns it after the machine exists.
   */
  setLocalAddress(address: string): void {
    this.localAddress = address;
  }

  /**
   * Leaves INIT. `boot` counts the first Master_Down_Interval from when the
   * router started (the daemon, clock ms, in the past) rather than from now,
   * as RFC 5798 6.4.1 starts the timer at Startup: what the process did to
   * get here does not lengthen it. It never ends before the machine has
   * listened (`boot.listening`: since when its socket receives) for one
   * advert interval and Skew_Time, so every live master has been heard once;
   * and a machine that started listening only after that interval would
   * have run out waits a whole one from now, as without `boot`.
   */
  start(boot?: { since: number; listening: number }, resume = false): void {
    if (this.current !== 'INIT') return;
    if (this.faulty) {
      this.current = 'FAULT';
      this.effects.transition('INIT', 'FAULT', 'fault at start');
      return;
    }
    // vrrp_init_state(): the owner becomes master after a 1 µs backup timer, without announcing BACKUP
    if (this.prio === PRIORITY_OWNER && this.initialState === 'MASTER') {
      this.gotoMaster('INIT', `address owner (priority ${PRIORITY_OWNER})`);
      return;
    }
    // it was master in a VRRP process that died just now: it goes on, before any backup can have taken over
    if (resume) {
      this.gotoMaster('INIT', 'resumed: the VRRP process was restarted while master');
      return;
    }
    this.current = 'BACKUP';
    this.masterIntCs = this.advertIntCs;
    this.armDownTimer('master-down');
    // only when it listened before that interval would have run out: a start slower than that waits a whole one
    if (boot && boot.listening - boot.since < this.downTimerUs / US_PER_MS) {
      const heardOnce = boot.listening + (this.masterIntCs * US_PER_CS + this.skewUs()) / US_PER_MS;
      const at = Math.max(boot.since + this.downTimerUs / US_PER_MS, heardOnce);
      if (at < this.deadline) this.setTimerAt(at, this.downTimerFired, true);
    }
    this.effects.transition('INIT', 'BACKUP', 'init');
  }

  /** An advert that passed checkAdvert(). Ignored outside BACKUP and MASTER, as keepalived's dispatcher ignores it. */
  onAdvert(adv: ReceivedAdvert): void {
    if (!Number.isInteger(adv.priority) || adv.priority < 0 || adv.priority > PRIORITY_OWNER) return;
    if (this.current === 'BACKUP') this.backupRx(adv);
    else if (this.current === 'MASTER') this.masterRx(adv);
  }

  /**
   * Enters or leaves FAULT. A master sends priority 0 and leaves master first.
   * Clearing goes to BACKUP with a fresh Master_Down_Interval, whatever the
   * priority (keepalived's try_up_instance() / vrrp_state_leave_fault()).
   * Before start() it only records the fault; after stop() it does nothing.
   */
  setFault(fault: boolean, reason: string): void {
    if (fault === this.faulty) return;
    this.faulty = fault;
    this.wantMaster = false;
    if (this.current === 'INIT' || this.current === 'STOP') return;
    if (fault) {
      const from = this.current;
      this.clearTimer();
      this.current = 'FAULT';
      if (from === 'MASTER') {
        this.counters.releaseMaster++;
        this.send(PRIORITY_STOP);
        this.effects.leaveMaster();
      }
      this.effects.transition(from, 'FAULT', reason);
    } else if (this.current === 'FAULT') {
      this.current = 'BACKUP';
      this.masterIntCs = this.advertIntCs;
      this.preemptAt = undefined;
      this.armDownTimer('master-down');
      this.effects.transition('FAULT', 'BACKUP', reason);
    }
  }

  /**
   * A new effective priority (1..255). A backup's running timer moves by the
   * change in its length, as vrrp_set_effective_priority() moves sands; a
   * master keeps going and advertises the new priority from its next advert.
   */
  setPriority(priority: number): void {
    checkInt(`(${this.name}) priority`, priority, 1, PRIORITY_OWNER);
    if (priority === this.prio) return;
    this.prio = priority;
    if (this.current !== 'BACKUP' || !this.timer) return;
    // keepalived recomputes a full Master_Down_Interval even when the running timer was the Skew_Time of a
    // priority-0 advert, which would throw away the quick takeover; we move the timer that is running.
    const length = this.downTimerKind === 'skew' ? this.skewUs() : this.fullDownUs();
    this.deadline += (length - this.downTimerUs) / US_PER_MS;
    this.downTimerUs = length;
    this.setTimerAt(this.deadline, this.downTimerFired, true);
  }

  /** true while a backup's down timer has run out but its sync group holds it back */
  get wantsMaster(): boolean {
    return this.current === 'BACKUP' && this.wantMaster;
  }

  /**
   * Sync group: a backup becomes master because another member did
   * (keepalived's vrrp_sync_master). Only acts in BACKUP.
   */
  forceMaster(reason: string): void {
    if (this.current !== 'BACKUP') return;
    this.wantMaster = false;
    this.gotoMaster('BACKUP', reason);
  }

  /**
   * Sync group: a master steps down because another member did
   * (keepalived's vrrp_sync_backup: no priority-0 advert, VIPs removed,
   * a fresh Master_Down_Interval). Only acts in MASTER.
   */
  forceBackup(reason: string): void {
    if (this.current !== 'MASTER') return;
    this.current = 'BACKUP';
    this.preemptAt = undefined;
    this.masterIntCs = this.advertIntCs;
    this.armDownTimer('master-down');
    this.counters.releaseMaster++;
    this.effects.leaveMaster();
    if (this.current !== 'BACKUP') return;
    this.effects.transition('MASTER', 'BACKUP', reason);
  }

  /**
   * A reload changed settings that need no new election: preemption and the
   * advert options apply from now on, in whatever state the machine is.
   */
  reconfigure(o: Pick<MachineOptions, 'preempt' | 'preemptDelayMs' | 'lowerPrioNoAdvert' | 'higherPrioSendAdvert'>): void {
    let nopreempt = !o.preempt;
    let delay = o.preemptDelayMs;
    if (this.prio === PRIORITY_OWNER) nopreempt = false;
    if (this.initialState === 'MASTER') {
      nopreempt = false;
      delay = 0;
    }
    if (nopreempt) delay = 0;
    this.preempt = !nopreempt;
    this.preemptDelayMs = delay;
    this.lowerPrioNoAdvert = o.lowerPrioNoAdvert ?? false;
    this.higherPrioSendAdvert = o.higherPrioSendAdvert ?? false;
  }

  /** -> STOP: a master sends one priority-0 advert and leaves master. Idempotent; nothing acts afterwards. */
  stop(reason = 'stopped'): void {
    if (this.current === 'STOP') return;
    const from = this.current;
    this.clearTimer();
    this.current = 'STOP';
    if (from === 'MASTER') {
      // restore_vrrp_interfaces() at shutdown: priority 0 so a backup takes over after Skew_Time, not Master_Down_Interval
      this.send(PRIORITY_STOP);
      this.effects.leaveMaster();
    }
    this.effects.transition(from, 'STOP', reason);
  }

  // -------------------------------------------------------------------------

  /** vrrp_state_backup() */
  private backupRx(adv: ReceivedAdvert): void {
    const clockNow = this.clock.now();
    // when the packet came in (never later than now)
    const now = adv.at !== undefined && adv.at <= clockNow ? adv.at : clockNow;
    if (adv.priority === PRIORITY_STOP) {
      // the master is leaving: take over after Skew_Time alone, so the highest-priority backup wins
      this.note(`(${this.name}) Backup received priority 0 advertisement`);
      this.armDownTimer('skew', now);
      return;
    }
    const delaying = this.preemptDelayMs > 0 && (this.preemptAt === undefined || this.preemptAt > now);
    this.lastMaster = { address: adv.src, priority: adv.priority };
    if (!this.preempt || adv.priority >= this.prio || delaying) {
      if (this.version === 3 && adv.advertIntCs !== this.masterIntCs) {
        // RFC 5798 6.4.2: Master_Adver_Interval comes from the master's advert
        this.note(`(${this.name}) advertisement interval updated from ${this.masterIntCs * 10}ms to ${adv.advertIntCs * 10}ms by master`);
        this.masterIntCs = adv.advertIntCs;
      }
      if (this.preemptDelayMs > 0) {
        if (adv.priority >= this.prio) {
          if (this.preemptAt !== undefined) this.note(`(${this.name}) stop preempt delay`);
          this.preemptAt = undefined;
        } else if (this.preemptAt === undefined) {
          // the delay runs from the first lower-priority advert heard in BACKUP
          this.preemptAt = now + this.preemptDelayMs;
          this.note(`(${this.name}) start preempt delay (${this.preemptDelayMs / 1000})`);
        }
      }
      this.wantMaster = false;
      this.armDownTimer('master-down', now);
      return;
    }
    // preempt: let the down timer run out; the lower-priority master yields when it hears our first advert
    this.note(`(${this.name}) received lower priority (${adv.priority}) advert from ${adv.src} - discarding`);
  }

  /** vrrp_state_master_rx(), and the advert timer reset keepalived's dispatcher does after it */
  private masterRx(adv: ReceivedAdvert): void {
    const addrCmp = compareAddresses(adv.src, this.localAddress);
    const higher = adv.priority > this.prio || (adv.priority === this.prio && addrCmp > 0);
    if (adv.priority === PRIORITY_STOP || (this.higherPrioSendAdvert && higher)) {
      // another router released mastership (or outranks us): assert ours at once
      this.send(this.prio);
      if (this.current !== 'MASTER') return;
      if (adv.priority === PRIORITY_STOP) {
        this.note(`(${this.name}) Master received priority 0 message`);
        this.afterMasterRx();
        return;
      }
    }
    if (adv.priority === this.prio) {
      if (addrCmp === 0) {
        this.note(`(${this.name}) WARNING - equal priority advert received from remote host with our IP address.`);
      } else if (this.prio === PRIORITY_OWNER) {
        // two address owners: keepalived drops its own priority so that one of them wins
        this.note(
          `(${this.name}) CONFIGURATION ERROR: local instance and a remote instance are both configured as address owner, please fix - reducing local priority`,
        );
        this.prio = PRIORITY_OWNER - 1;
      }
    }
    if (adv.priority < this.prio || (adv.priority === this.prio && addrCmp < 0)) {
      // a lower-priority router thinks it is master: our advert makes it step down
      this.note(
        `(${this.name}) Received advert from ${adv.src} with lower priority ${adv.priority}, ours ${this.prio}${this.lowerPrioNoAdvert ? '' : ', forcing new election'}`,
      );
      this.effects.rxLowerPriorityFirst?.(adv);
      if (!this.lowerPrioNoAdvert) this.send(this.prio);
      if (this.current !== 'MASTER') return;
      this.effects.rxLowerPriority?.(adv);
      if (this.current !== 'MASTER') return;
      this.afterMasterRx();
      return;
    }
    if (adv.priority > this.prio || (adv.priority === this.prio && addrCmp > 0)) {
      const reason =
        adv.priority > this.prio
          ? `Master received advert from ${adv.src} with higher priority ${adv.priority}, ours ${this.prio}`
          : `Master received advert from ${adv.src} with same priority ${adv.priority} but higher IP address than ours`;
      if (this.version === 3) this.masterIntCs = adv.advertIntCs;
      this.lastMaster = { address: adv.src, priority: adv.priority };
      this.current = 'BACKUP';
      this.preemptAt = undefined;
      this.armDownTimer('master-down');
      this.counters.releaseMaster++;
      this.effects.leaveMaster();
      if (this.current !== 'BACKUP') return;
      this.effects.transition('MASTER', 'BACKUP', reason);
      return;
    }
    this.afterMasterRx();
  }

  /** keepalived's dispatcher restarts a master's advert interval after each advert it read, unless lower_prio_no_advert */
  private afterMasterRx(): void {
    if (!this.lowerPrioNoAdvert && this.current === 'MASTER') this.armAdvertTimer();
  }

  /** vrrp_state_goto_master() + vrrp_state_master_tx(): first advert, then VIPs, then the news */
  private gotoMaster(from: VrrpState, reason: string): void {
    this.current = 'MASTER';
    // RFC 5798 6.4.1 / 6.4.2: a master advertises its own interval and times by it
    this.masterIntCs = this.advertIntCs;
    this.counters.becomeMaster++;
    // the addresses first (their requests leave at once), then the advert; the gratuitous ARPs
    // follow once the addresses are in place, so the advert still precedes them. The advert
    // timer is armed even if the effect throws: a master must not fall silent.
    try {
      this.effects.becomeMaster();
    } finally {
      if (this.current === 'MASTER') this.armAdvertTimer();
    }
    if (this.current !== 'MASTER') return;
    this.send(this.prio);
    if (this.current !== 'MASTER') return;
    this.effects.transition(from, 'MASTER', reason);
  }

  private onDownTimer(): void {
    this.timer = undefined;
    if (this.current !== 'BACKUP') return;
    if (this.effects.canBecomeMaster && !this.effects.canBecomeMaster()) {
      // the sync group waits for every member: try again after a fresh interval
      this.wantMaster = true;
      this.armDownTimer('master-down');
      return;
    }
    this.wantMaster = false;
    const ms = this.downTimerUs / US_PER_MS;
    const reason = this.downTimerKind === 'skew' ? `the master left (priority 0); Skew_Time ${ms} ms passed` : `no advert for Master_Down_Interval (${ms} ms)`;
    this.gotoMaster('BACKUP', reason);
  }

  private onAdvertTimer(): void {
    this.timer = undefined;
    if (this.current !== 'MASTER') return;
    this.effects.advertLate?.(this.clock.now() - this.deadline);
    // the next advert is due one interval after this one was due, not after it fired:
    // a timer that fires late does not push every later advert back
    this.armAdvertTimer(this.deadline);
    this.send(this.prio);
  }

  private send(priority: number): void {
    this.counters.advertSent++;
    if (priority === PRIORITY_STOP) this.counters.priZeroSent++;
    this.effects.sendAdvert(priority, this.advertIntCs);
  }

  private note(message: string): void {
    this.effects.note?.(message);
  }

  private fullDownUs(): number {
    return masterDownIntervalUs(this.version, this.prio, this.masterIntCs, this.downTimerAdverts);
  }

  private skewUs(): number {
    return skewTimeUs(this.version, this.prio, this.masterIntCs);
  }

  /** from: clock ms the timer counts from (an advert's arrival), now by default */
  private armDownTimer(kind: DownTimerKind, from = this.clock.now()): void {
    this.downTimerKind = kind;
    this.downTimerUs = kind === 'skew' ? this.skewUs() : this.fullDownUs();
    this.setTimerAt(from + this.downTimerUs / US_PER_MS, this.downTimerFired, true);
  }

  private armAdvertTimer(anchor?: number): void {
    const interval = this.advertIntCs * (US_PER_CS / US_PER_MS);
    const now = this.clock.now();
    // anchored only while on schedule: after a long stall, start afresh rather than burst to catch up
    const at = anchor !== undefined && anchor + interval > now ? anchor + interval : now + interval;
    this.setTimerAt(at, this.advertTimerFired);
  }

  /** precise: the master-down and skew timers, which decide when a backup takes over */
  private setTimerAt(at: number, fn: () => void, precise = false): void {
    this.clearTimer();
    this.deadline = at;
    this.timer = this.clock.setTimer(Math.max(0, at - this.clock.now()), fn, precise);
  }

  private clearTimer(): void {
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }
}

function checkInt(what: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${what} must be an integer in ${min}..${max}, not ${v}`);
}

/** The clock of warmUpMachine(): time moves only when told, and timers fire in order. */
class RehearsalClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return { id };
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete((handle as { id: number }).id);
  }

  /** fires the earliest timer, moving time to it */
  fireNext(): void {
    let next: [number, { at: number; fn: () => void }] | undefined;
    for (const e of this.timers) if (!next || e[1].at < next[1].at) next = e;
    if (!next) return;
    this.timers.delete(next[0]);
    this.t = Math.max(this.t, next[1].at);
    next[1].fn();
  }
}

let rehearsed = false;

/**
 * Runs a throwaway machine, with effects that do nothing, through what a
 * backup does once in its life: taking over (down timer and Skew_Time),
 * advertising, stepping down to a higher priority, FAULT, and a master's
 * stop (its priority-0 advert). V8
 * compiles a function at its first call: without this, a backup's first
 * takeover pays for compiling the master path (0.1-0.3 ms measured). Once
 * per process; the VRRP process keeps the bytecode (--no-flush-bytecode).
 */
export function warmUpMachine(): void {
  if (rehearsed) return;
  rehearsed = true;
  const clock = new RehearsalClock();
  const nothing = (): void => {};
  const m = new VrrpMachine(
    {
      name: 'rehearsal',
      version: 3,
      priority: 100,
      advertIntCs: 10,
      initialState: 'BACKUP',
      preempt: true,
      preemptDelayMs: 0,
      localAddress: '192.0.2.2',
      clock,
    },
    {
      sendAdvert: nothing,
      becomeMaster: nothing,
      leaveMaster: nothing,
      transition: nothing,
      note: nothing,
      canBecomeMaster: () => true,
      rxLowerPriority: nothing,
    },
    newCounters(),
  );
  m.start();
  m.onAdvert({ priority: 100, advertIntCs: 10, src: '192.0.2.1', at: clock.now() });
  clock.fireNext(); // down timer: MASTER
  clock.fireNext(); // an advert
  m.onAdvert({ priority: 50, advertIntCs: 10, src: '192.0.2.3' });
  m.onAdvert({ priority: 200, advertIntCs: 10, src: '192.0.2.1' }); // BACKUP
  m.onAdvert({ priority: 0, advertIntCs: 10, src: '192.0.2.1', at: clock.now() });
  clock.fireNext(); // Skew_Time: MASTER
  m.setFault(true, 'rehearsal');
  m.setFault(false, 'rehearsal');
  clock.fireNext(); // MASTER again: a master's stop is what SIGTERM runs
  m.stop('rehearsal');
}
