import * as path from 'node:path';
import assert from 'node:assert/strict';
import { httpServer, NotifierTester, type HttpHandler, type TestServer } from '../../core/testing';
import type { NotifyEvent } from '../../core/plugin/events';
import { PROJECT_ROOT } from '../helpers/config';

/**
 * The example custom notifier, tested the way a plugin author would: the
 * NotifierTester alived ships, a table of cases, each against a real HTTP
 * server on loopback. The plugin is enabled from the config's plugins block
 * by its path, as an operator would.
 */

const PLUGIN = path.join(PROJECT_ROOT, 'dist/examples/notify-ntfy/notify-ntfy.js');

interface Seen {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
const seen = new WeakMap<TestServer, Seen[]>();
let lastStarted: Seen[] = [];

/** an ntfy-like server answering `status`, recording what it got */
function ntfy(status: number | 'hang', description: string) {
  const requests: Seen[] = [];
  const handler: HttpHandler = (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      if (status === 'hang') return;
      res.writeHead(status);
      res.end('{}');
    });
  };
  const b = httpServer(handler, description);
  return {
    ...b,
    async start() {
      const s = await b.start();
      seen.set(s, requests);
      lastStarted = requests;
      return s;
    },
  };
}

const conf =
  (extra = '') =>
  (s: TestServer | undefined) =>
    `global_defs {\n  router_id LB1\n}\nntfy phone {\n  url http://127.0.0.1:${s?.port ?? 1}/alived\n${extra}}\n`;
const fault: NotifyEvent = { type: 'vrrp', kind: 'instance', name: 'VI_1', from: 'MASTER', to: 'FAULT', priority: 100, reason: 'tracker down', time: 0 };
const rsDown: NotifyEvent = {
  type: 'real-server',
  virtualServer: '[10.0.0.1]:tcp:80',
  realServer: { address: '10.0.0.2', port: 80, protocol: 'tcp' },
  up: false,
  weight: 1,
  reason: 'x',
  time: 0,
};
const start: NotifyEvent = { type: 'daemon', what: 'start', time: 0 };

new NotifierTester({ plugin: PLUGIN, settleMs: 1000 }).run('examples/notify-ntfy with the NotifierTester', [
  {
    name: 'a transition becomes a message with title, priority and tags',
    config: conf(),
    server: ntfy(200, 'ntfy answering 200'),
    events: [fault],
    expect: 'sent',
    inspect(server) {
      const r = seen.get(server!)!;
      assert.equal(r.length, 1);
      assert.equal(r[0]!.body, 'VRRP instance VI_1: MASTER -> FAULT (priority 100)');
      assert.equal(r[0]!.headers.title, 'LB1: FAULT');
      assert.equal(r[0]!.headers.priority, '5');
      assert.equal(r[0]!.headers.tags, 'rotating_light');
    },
  },
  {
    name: 'events filter: checker events only; daemon events never',
    config: conf('  events checker\n'),
    server: ntfy(200, 'ntfy answering 200'),
    events: [fault, rsDown, start],
    accepted: [1],
    expect: 'sent',
  },
  { name: '503: retried', config: conf(), server: ntfy(503, 'ntfy answering 503'), expect: 'retry', message: 'ntfy answered HTTP 503' },
  { name: '403: failed for good', config: conf(), server: ntfy(403, 'ntfy answering 403'), expect: 'failed', message: 'ntfy answered HTTP 403' },
  {
    name: 'a server that never answers: the delivery settles at its timeout and is retried',
    config: conf(),
    server: ntfy('hang', 'ntfy that never answers'),
    timeoutMs: 300,
    expect: 'retry',
  },
  { name: 'nobody listening: retried', config: conf(), expect: 'retry', message: /ECONNREFUSED/ },
  {
    name: 'config errors',
    config: 'ntfy phone {\n  url ftp://x\n  events vrrp pager\n}\n',
    errors: [/'ftp:\/\/x' is not an http/, /'pager' is not one of vrrp, checker, quorum/],
  },
]);
void lastStarted;
