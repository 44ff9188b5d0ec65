import { AlivedError, isAlivedError } from '../errors';
import type { NotifyTestResult, OutboxItem } from '../api/types';
import type { PluginInfo, StatusDocument, TimelineEvent } from '../status/types';
import { INSTANCE_NAME_RE, type ClientCommand } from './options';
import { defaultSocketPath, UnixStatusClient, type StatusClient } from './status-client';
import { formatEvent, formatOutbox, formatPlugins, formatStatus, formatTestResults, paletteFor, type Palette } from './status-format';

/**
 * The subcommands that talk to a running daemon through its API:
 * `alived status`, `events`, `plugins`, `notify test` and `outbox`. Each
 * finds the daemon's socket from the flags the daemon was started with
 * (--state-dir, --instance) or from --socket. Exit codes: CLIENT_EXIT
 * (docs/cli.md).
 */

export const CLIENT_EXIT = {
  OK: 0,
  /** the daemon answered with an error, or what was asked failed (a test notification not delivered) */
  FAILED: 1,
  /** the command line is wrong, or a drop without --yes where nobody can confirm it */
  USAGE: 2,
  /** the daemon's API cannot be reached (no socket, refused, no answer) */
  UNREACHABLE: 3,
  /** Ctrl-C before the answer came (--watch and -f end with OK) */
  INTERRUPTED: 130,
} as const;

/** how long a request may take; a test notification as long as the longest attempt timeout of a notifier (a webhook's timeout is at most 600 s) */
const REQUEST_TIMEOUT_MS = 10_000;
const NOTIFY_TEST_TIMEOUT_MS = 620_000;

const WATCH_DEFAULT_S = 2;
const WATCH_MIN_S = 0.2;
const WATCH_MAX_S = 3600;
const CLEAR = '\x1b[H\x1b[2J';

export interface ClientIo {
  readonly stdout: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream;
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean };
  readonly env: NodeJS.ProcessEnv;
  /** aborts on SIGINT: --watch and -f stop then */
  readonly signal?: AbortSignal;
  /** makes the client for a socket; default UnixStatusClient */
  readonly client?: (socketPath: string, chosenBy: string, timeoutMs: number) => StatusClient;
}

interface Common {
  socket?: string;
  stateDir?: string;
  instance?: string;
  json: boolean;
  noColor: boolean;
  help: boolean;
  args: string[];
}

interface Flag {
  readonly names: readonly string[];
  /** 'none': a switch; 'required': takes the next word; 'number?': takes the next word when it is a number */
  readonly arg: 'none' | 'required' | 'number?';
  readonly apply: (v: string | undefined) => void;
}

const COMMON_HELP = [
  '  --socket PATH           the API socket (default: from --state-dir / --instance, else /run/alived/alived.sock)',
  '  --state-dir DIR         the daemon was started with --state-dir DIR: its socket is DIR/alived.sock',
  '  --instance NAME         the daemon was started with --instance NAME: its socket is /run/alived/alived_NAME.sock',
];

const USAGE: Record<ClientCommand, string> = {
  status: 'alived status [--json] [--watch [SECONDS]] [--no-color]',
  events: 'alived events [--since SEQ] [-n N] [-f] [--json]',
  plugins: 'alived plugins [--json]',
  notify: 'alived notify test [NAME] [--json]',
  outbox: 'alived outbox [list] [--json] | alived outbox retry [ID] | alived outbox drop ID [--yes]',
};

class UsageError extends AlivedError {
  constructor(message: string) {
    super('ALIVED_CLI_BAD_OPTION', message);
  }
}

function parse(argv: readonly string[], extra: readonly Flag[]): Common {
  const c: Common = { json: false, noColor: false, help: false, args: [] };
  const flags: Flag[] = [
    { names: ['--socket'], arg: 'required', apply: (v) => (c.socket = v) },
    { names: ['--state-dir'], arg: 'required', apply: (v) => (c.stateDir = v) },
    { names: ['--instance'], arg: 'required', apply: (v) => (c.instance = v) },
    { names: ['-h', '--help'], arg: 'none', apply: () => (c.help = true) },
    { names: ['--json'], arg: 'none', apply: () => (c.json = true) },
    { names: ['--no-color'], arg: 'none', apply: () => (c.noColor = true) },
    ...extra,
  ];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('-') || a === '-') {
      c.args.push(a);
      continue;
    }
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq < 0 ? a : a.slice(0, eq);
    const f = flags.find((x) => x.names.includes(name));
    if (!f) throw new UsageError(`unknown option '${name}'`);
    let v: string | undefined = eq < 0 ? undefined : a.slice(eq + 1);
    if (f.arg === 'none' && v !== undefined) throw new UsageError(`option '${name}' takes no value`);
    if (f.arg === 'required' && v === undefined) {
      v = argv[++i];
      if (v === undefined) throw new UsageError(`option '${name}' needs a value`);
    }
    if (f.arg === 'number?' && v === undefined && argv[i + 1] !== undefined && /^\d+(\.\d+)?$/.test(argv[i + 1]!)) v = argv[++i];
    f.apply(v);
  }
  if (c.instance !== undefined && !INSTANCE_NAME_RE.test(c.instance)) {
    throw new UsageError(`--instance '${c.instance.slice(0, 80)}': a name is 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-'`);
  }
  return c;
}

function intArg(name: string, v: string | undefined, min: number): number {
  if (v === undefined || !/^\d+$/.test(v) || Number(v) < min || !Number.isSafeInteger(Number(v))) {
    throw new UsageError(`${name} takes a whole number from ${min}${v !== undefined ? `, not '${v.slice(0, 40)}'` : ''}`);
  }
  return Number(v);
}

/** The socket and what chose it, for the message when it cannot be reached. */
export function socketOf(c: { socket?: string; stateDir?: string; instance?: string }): { path: string; chosenBy: string } {
  if (c.socket) return { path: c.socket, chosenBy: 'given with --socket' };
  const path = defaultSocketPath({ ...(c.stateDir ? { stateDir: c.stateDir } : {}), ...(c.instance ? { instance: c.instance } : {}) });
  if (c.stateDir) return { path, chosenBy: `from --state-dir ${c.stateDir}` };
  if (c.instance) return { path, chosenBy: `from --instance ${c.instance}` };
  return { path, chosenBy: 'the default socket' };
}

/** `alived status|events|plugins|notify|outbox ...`: argv starts with the command. */
export async function runClientCommand(argv: readonly string[], io: ClientIo): Promise<number> {
  const command = argv[0] as ClientCommand;
  const err = (s: string): void => void io.stderr.write(`alived ${command}: ${s}\n`);
  try {
    return await dispatch(command, argv.slice(1), io);
  } catch (e) {
    if (io.signal?.aborted) return CLIENT_EXIT.INTERRUPTED;
    if (e instanceof UsageError) {
      err(`${e.message}\nUsage: ${USAGE[command]}\nTry 'alived ${command} --help'.`);
      return CLIENT_EXIT.USAGE;
    }
    if (isAlivedError(e, 'ALIVED_API_UNREACHABLE')) {
      err(`${e.code}: ${e.message}`);
      return CLIENT_EXIT.UNREACHABLE;
    }
    if (isAlivedError(e)) {
      err(`${e.code}: ${e.message}`);
      return CLIENT_EXIT.FAILED;
    }
    throw e;
  }
}

async function dispatch(command: ClientCommand, argv: readonly string[], io: ClientIo): Promise<number> {
  switch (command) {
    case 'status':
      return status(argv, io);
    case 'events':
      return events(argv, io);
    case 'plugins':
      return plugins(argv, io);
    case 'notify':
      return notify(argv, io);
    case 'outbox':
      return outbox(argv, io);
  }
}

function help(io: ClientIo, command: ClientCommand, lines: readonly string[]): number {
  io.stdout.write(
    [
      `Usage: ${USAGE[command]}`,
      '',
      ...lines,
      ...COMMON_HELP,
      '',
      'Exit codes: 0 ok, 1 the daemon answered an error or the action failed,',
      '            2 bad command line, 3 the daemon cannot be reached.',
    ].join('\n') + '\n',
  );
  return CLIENT_EXIT.OK;
}

function connect(c: Common, io: ClientIo, timeoutMs = REQUEST_TIMEOUT_MS): StatusClient {
  const s = socketOf(c);
  return io.client
    ? io.client(s.path, s.chosenBy, timeoutMs)
    : new UnixStatusClient({ socketPath: s.path, chosenBy: s.chosenBy, timeoutMs, ...(io.signal ? { signal: io.signal } : {}) });
}

function palette(c: Common, io: ClientIo): Palette {
  return paletteFor(io.stdout.isTTY, io.env, c.noColor);
}

function noArgs(c: Common, from = 0): void {
  if (c.args.length > from) throw new UsageError(`unexpected argument '${c.args[from]}'`);
}

/** waits `ms`, or less when the signal aborts; true when it aborted */
function sleep(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve(signal?.aborted === true);
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

async function status(argv: readonly string[], io: ClientIo): Promise<number> {
  let watch: number | undefined;
  const c = parse(argv, [
    {
      names: ['--watch', '-w'],
      arg: 'number?',

      apply: (v) => {
        const s = v === undefined ? WATCH_DEFAULT_S : Number(v);
        if (!(s >= WATCH_MIN_S && s <= WATCH_MAX_S)) throw new UsageError(`--watch takes seconds from ${WATCH_MIN_S} to ${WATCH_MAX_S}, not '${v}'`);
        watch = s;
      },
    },
  ]);
  if (c.help) {
    return help(io, 'status', [
      'What the daemon is doing: its VRRP instances (state, priority, VIPs, since when, and why),',
      'the pools as ipvsadm -Ln shows them with their check results, and the notifiers with their backlog.',
      '',
      '  --json                  print the status document (docs/status.md)',
      `  -w, --watch [SECONDS]   print it again every SECONDS (default ${WATCH_DEFAULT_S}) until Ctrl-C`,
      '  --no-color              no colour (also: NO_COLOR set, or output not a terminal)',
    ]);
  }
  noArgs(c);
  const client = connect(c, io);
  const p = palette(c, io);
  const render = (doc: StatusDocument): string => (c.json ? JSON.stringify(doc, null, watch === undefined ? 2 : undefined) + '\n' : formatStatus(doc, p));
  if (watch === undefined) {
    io.stdout.write(render(await client.get<StatusDocument>('/v1/status')));
    return CLIENT_EXIT.OK;
  }
  const tty = io.stdout.isTTY === true && !c.json;
  for (;;) {
    let text: string;
    try {
      text = render(await client.get<StatusDocument>('/v1/status'));
    } catch (e) {
      if (io.signal?.aborted) return CLIENT_EXIT.OK;
      if (!isAlivedError(e)) throw e;
      // the daemon may be restarting: say so and keep watching
      text = `${new Date().toISOString()}  ${e.code}: ${e.message}\n`;
    }
    io.stdout.write(tty ? `${CLEAR}${text}${p.dim(`every ${watch}s; Ctrl-C to stop`)}\n` : c.json ? text : `${text}\n`);
    if (await sleep(watch * 1000, io.signal)) return CLIENT_EXIT.OK;
  }
}

async function events(argv: readonly string[], io: ClientIo): Promise<number> {
  let since: number | undefined;
  let limit: number | undefined;
  let follow = false;
  const c = parse(argv, [
    { names: ['--since'], arg: 'required', apply: (v) => (since = intArg('--since', v, 0)) },
    { names: ['-n', '--lines'], arg: 'required', apply: (v) => (limit = intArg('-n', v, 1)) },
    { names: ['-f', '--follow'], arg: 'none', apply: () => (follow = true) },
  ]);
  if (c.help) {
    return help(io, 'events', [
      'The timeline: transitions, priority, tracker and real-server changes, reloads, deliveries, with their causes.',
      '',
      '  --since SEQ             only the events after sequence number SEQ',
      '  -n, --lines N           the last N events',
      '  -f, --follow            then print each new event as it happens, until Ctrl-C',
      '  --json                  one JSON object (a TimelineEvent) per line',
      '  --no-color              no colour',
    ]);
  }
  noArgs(c);
  const client = connect(c, io);
  const p = palette(c, io);
  const print = (e: TimelineEvent): void => void io.stdout.write(c.json ? `${JSON.stringify(e)}\n` : `${formatEvent(e, p)}\n`);
  const q = new URLSearchParams();
  if (since !== undefined) q.set('since', String(since));
  if (limit !== undefined) q.set('limit', String(limit));
  const { events: list } = await client.get<{ events: TimelineEvent[] }>(`/v1/timeline${q.size ? `?${q}` : ''}`);
  let last = since ?? 0;
  for (const e of list) {
    print(e);
    last = Math.max(last, e.seq);
  }
  if (!follow) return CLIENT_EXIT.OK;
  if (io.signal?.aborted) return CLIENT_EXIT.OK;
  try {
    for await (const ev of client.stream(`/v1/events?since=${last}`, io.signal)) {
      if (ev.event !== 'timeline') continue;
      let e: TimelineEvent;
      try {
        e = JSON.parse(ev.data) as TimelineEvent;
      } catch {
        continue;
      }
      // the stream may repeat what the timeline already gave
      if (e.seq <= last) continue;
      last = e.seq;
      print(e);
    }
  } catch (e) {
    if (io.signal?.aborted) return CLIENT_EXIT.OK;
    throw e;
  }
  if (io.signal?.aborted) return CLIENT_EXIT.OK;
  throw new AlivedError('ALIVED_API_UNREACHABLE', 'the daemon ended the event stream (it stopped or restarted)');
}

async function plugins(argv: readonly string[], io: ClientIo): Promise<number> {
  const c = parse(argv, []);
  if (c.help)
    return help(io, 'plugins', [
      'The plugins the daemon loaded, their versions, and what each registers.',
      '',
      '  --json                  print { plugins: [...] }',
    ]);
  noArgs(c);
  const r = await connect(c, io).get<{ plugins: PluginInfo[] }>('/v1/plugins');
  io.stdout.write(c.json ? `${JSON.stringify(r, null, 2)}\n` : formatPlugins(r.plugins, palette(c, io)));
  return CLIENT_EXIT.OK;
}

async function notify(argv: readonly string[], io: ClientIo): Promise<number> {
  const c = parse(argv, []);
  if (c.help) {
    return help(io, 'notify', [
      'Sends a test notification through the real delivery (mail, webhooks), now, to the notifier NAME',
      '(an id such as webhook:ops, a name, or a kind such as mail) or to every one; says what each did.',
      "Not kept in the outbox and not retried. Notify scripts and FIFOs get keepalived's events only.",
      '',
      '  --json                  print { results: [...] }',
    ]);
  }
  if (c.args[0] !== 'test') throw new UsageError(c.args[0] === undefined ? "missing 'test'" : `unknown notify command '${c.args[0]}'`);
  noArgs(c, 2);
  const name = c.args[1];
  const r = await connect(c, io, NOTIFY_TEST_TIMEOUT_MS).post<{ results: NotifyTestResult[] }>('/v1/notify/test', name === undefined ? {} : { notifier: name });
  io.stdout.write(c.json ? `${JSON.stringify(r, null, 2)}\n` : formatTestResults(r.results, palette(c, io)));
  const tried = r.results.filter((x) => !x.skipped);
  return tried.length > 0 && tried.every((x) => x.ok) ? CLIENT_EXIT.OK : CLIENT_EXIT.FAILED;
}

async function outbox(argv: readonly string[], io: ClientIo): Promise<number> {
  let yes = false;
  const c = parse(argv, [{ names: ['-y', '--yes'], arg: 'none', apply: () => (yes = true) }]);
  if (c.help) {
    return help(io, 'outbox', [
      'Notifications accepted and not delivered yet (mail, webhooks), per notifier.',
      '',
      '  list                    (the default) id, sequence, age, attempts, the event and its last error',
      '  retry [ID]              the next attempt now instead of after its backoff: of one entry, or of all',
      '  drop ID                 remove one entry for good (asks first; an ID prefix that names one entry will do)',
      '  -y, --yes               drop without asking (needed where there is no terminal to ask on)',
      '  --json                  list: print { entries: [...] }',
    ]);
  }
  const sub = c.args[0] ?? 'list';
  const client = connect(c, io);
  const p = palette(c, io);
  switch (sub) {
    case 'list': {
      noArgs(c, 1);
      const r = await client.get<{ entries: OutboxItem[] }>('/v1/outbox');
      io.stdout.write(c.json ? `${JSON.stringify(r, null, 2)}\n` : formatOutbox(r.entries, Date.now(), p));
      return CLIENT_EXIT.OK;
    }
    case 'retry': {
      noArgs(c, 2);
      const id = c.args[1] === undefined ? undefined : (await resolveEntry(client, c.args[1])).id;
      const r = await client.post<{ retried: number }>('/v1/outbox/retry', id === undefined ? {} : { id });
      io.stdout.write(
        r.retried === 0
          ? 'nothing to retry now (the outbox is empty, or its entries are being delivered)\n'
          : `${r.retried} notification${r.retried === 1 ? '' : 's'} tried again now\n`,
      );
      return CLIENT_EXIT.OK;
    }
    case 'drop': {
      noArgs(c, 2);
      const id = c.args[1];
      if (id === undefined) throw new UsageError('drop needs the ID of an entry (alived outbox lists them)');
      if (!yes && !io.stdin.isTTY) throw new UsageError(`drop ${id}: refused without a terminal to confirm on; give --yes to drop it`);
      const e = await resolveEntry(client, id);
      if (!yes) {
        const answer = await ask(io, `drop ${e.id} (#${e.sequence} for ${e.notifier}: ${e.summary})? [y/N] `);
        if (!/^y(es)?$/i.test(answer.trim())) {
          io.stdout.write('not dropped\n');
          return CLIENT_EXIT.OK;
        }
      }
      const r = await client.delete<{ dropped: string }>(`/v1/outbox/${encodeURIComponent(e.id)}`);
      io.stdout.write(`dropped ${r.dropped}\n`);
      return CLIENT_EXIT.OK;
    }
    default:
      throw new UsageError(`unknown outbox command '${sub}' (list, retry, drop)`);
  }
}

/** the outbox entry an id names: the whole id, or a prefix of exactly one (as with git's commit ids) */
async function resolveEntry(client: StatusClient, id: string): Promise<OutboxItem> {
  const entries = (await client.get<{ entries: OutboxItem[] }>('/v1/outbox')).entries;
  const exact = entries.find((x) => x.id === id);
  if (exact) return exact;
  const hits = entries.filter((x) => x.id.startsWith(id));
  if (hits.length === 1) return hits[0]!;
  if (hits.length === 0) throw new AlivedError('ALIVED_API_NOT_FOUND', `no outbox entry '${id}' (alived outbox lists them)`);
  throw new AlivedError('ALIVED_API_BAD_REQUEST', `'${id}' names ${hits.length} outbox entries (${hits.map((h) => h.id).join(', ')}); give more of the id`);
}

/** one line from the terminal */
function ask(io: ClientIo, question: string): Promise<string> {
  io.stderr.write(question);
  return new Promise((resolve) => {
    let got = '';
    const onData = (chunk: Buffer | string): void => {
      got += chunk.toString();
      const nl = got.indexOf('\n');
      if (nl >= 0) finish(got.slice(0, nl));
    };
    const onEnd = (): void => finish(got);
    const finish = (line: string): void => {
      io.stdin.removeListener('data', onData);
      io.stdin.removeListener('end', onEnd);
      io.stdin.pause();
      resolve(line);
    };
    io.stdin.on('data', onData);
    io.stdin.on('end', onEnd);
    io.stdin.resume();
  });
}
