/**
 * ntfy: a custom notifier, written as a third-party plugin would be. Each
 * event is POSTed as a plain-text message to an ntfy topic (https://ntfy.sh
 * or a server of your own), with a title, a priority and tags as ntfy reads
 * them from headers. Delivery — retries, the outbox, order, coalescing — is
 * alived's: the plugin only says how to send one event.
 *
 *   plugins {
 *     "./notify-ntfy.js"
 *   }
 *   ntfy oncall {
 *     url https://ntfy.example.com/alived-lb1
 *     token_file /etc/alived/ntfy.token
 *     events vrrp quorum
 *   }
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import {
  block,
  describeEvent,
  eventState,
  filePath,
  many,
  oneOf,
  permanentFailure,
  str,
  trackerHeader,
  value,
  word,
  type AlivedPlugin,
  type BlockOf,
  type NotifyEvent,
} from 'alived';

const KINDS = ['vrrp', 'checker', 'quorum'] as const;
type Kind = (typeof KINDS)[number];

const schema = block(
  {
    url: word(str({ pattern: /^https?:\/\/[^\s]+$/, patternText: 'an http:// or https:// URL of a topic' }))
      .required()
      .doc('the topic URL'),
    token_file: word(filePath({ mustExist: true })).doc('file holding an access token (first line), sent as a Bearer token'),
    events: value(many(oneOf(KINDS), { min: 1 })).doc('vrrp checker quorum; default all'),
  },
  { header: trackerHeader },
);
type Config = BlockOf<typeof schema>;

function kindOf(e: NotifyEvent): Kind | undefined {
  if (e.type === 'vrrp') return 'vrrp';
  if (e.type === 'real-server') return 'checker';
  if (e.type === 'quorum') return 'quorum';
  if (e.type === 'flapping') return kindOf(e.first);
  return undefined;
}

/** ntfy's priorities: 5 urgent, 4 high, 3 default */
function priority(e: NotifyEvent): number {
  const s = eventState(e);
  if (e.type === 'flapping' || s === 'FAULT' || s === 'DOWN') return 5;
  return s === 'MASTER' ? 4 : 3;
}

function post(url: string, body: string, headers: Record<string, string>, signal: AbortSignal, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith('https:') ? https : http).request(url, { method: 'POST', headers, signal, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const plugin: AlivedPlugin = {
  name: 'notify-ntfy',
  version: '1.0.0',
  alived: '>=0.1.0 <1.0.0',
  apply(api) {
    api.registerNotifier<Config>({
      keyword: 'ntfy',
      schema,
      create(config, ctx) {
        const kinds = new Set<Kind>(config.events ?? KINDS);
        const token = config.tokenFile ? fs.readFileSync(config.tokenFile, 'utf8').split('\n')[0]!.trim() : undefined;
        // our own agent, without keep-alive: close() leaves no connection behind (the tester checks it)
        const agent = new (config.url.startsWith('https:') ? https : http).Agent({ keepAlive: false });
        return {
          accepts(e) {
            const k = kindOf(e);
            return k !== undefined && kinds.has(k);
          },
          async deliver(e, signal, info) {
            const headers: Record<string, string> = {
              title: `${ctx.model.globalDefs?.routerId ?? 'alived'}: ${eventState(e)}`,
              priority: String(priority(e)),
              tags: priority(e) === 5 ? 'rotating_light' : 'information_source',
              'x-idempotency-key': info.id,
            };
            if (token) headers.authorization = `Bearer ${token}`;
            const status = await post(config.url, describeEvent(e), headers, signal, agent);
            if (status >= 200 && status < 300) return;
            if (status === 429 || status >= 500) throw new Error(`ntfy answered HTTP ${status}`);
            throw permanentFailure(`ntfy answered HTTP ${status}`);
          },
          close() {
            agent.destroy();
          },
        };
      },
    });
  },
};
export default plugin;
