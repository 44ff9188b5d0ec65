/**
 * REDIS_CHECK: a custom health check for Redis, written as a third-party
 * plugin would be (docs/writing-a-plugin.md walks through it).
 *
 *   plugins {
 *     "./redis-check.js" { timeout 2 }
 *   }
 *   real_server 192.0.2.21 6379 {
 *     REDIS_CHECK {
 *       password_file /etc/alived/redis.pass
 *       expect_role master
 *     }
 *   }
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import {
  block,
  checkerCommonFields,
  checkerConnectionFields,
  word,
  duration,
  filePath,
  oneOf,
  tcpConnectOptions,
  type AlivedPlugin,
  type BlockOf,
  type Checker,
  type CheckResult,
  type Endpoint,
} from 'alived';

const PLUGIN_NAME = 'redis-check';

/** the plugin's own options, from `plugins { "./redis-check.js" { ... } }` */
const options = block({
  timeout: word(duration({ min: 0.1, max: 60 }))
    .default(3)
    .doc('seconds a check may take'),
});

/**
 * the keywords of a REDIS_CHECK block inside real_server: those every
 * checker shares (connect_timeout, bindto, retry, delay_loop, ...: alived
 * applies them), then its own
 */
const schema = block({
  ...checkerConnectionFields,
  ...checkerCommonFields,
  password_file: word(filePath({ mustExist: true })).doc('file holding the AUTH password'),
  expect_role: word(oneOf(['master', 'slave'])).doc('fail unless INFO replication reports this role'),
});

/** the typed values alived hands over, inferred from the schemas: { timeout: number }, { passwordFile?: string; expectRole?: 'master' | 'slave' } */
type Options = BlockOf<typeof options>;
type Config = BlockOf<typeof schema>;

/** Sends one command and reads one RESP reply: +simple, -error, :int, $bulk. */
function command(sock: net.Socket, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += d.toString('latin1');
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      const head = buf.slice(0, nl);
      if (head[0] === '$') {
        const len = Number(head.slice(1));
        if (len < 0) return done(null, '');
        if (buf.length < nl + 2 + len + 2) return;
        return done(null, buf.slice(nl + 2, nl + 2 + len));
      }
      if (head[0] === '-') return done(new Error(head.slice(1)));
      return done(null, head.slice(1));
    };
    const done = (err: Error | null, v?: string): void => {
      sock.off('data', onData);
      if (err) reject(err);
      else resolve(v!);
    };
    sock.on('data', onData);
    sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
  });
}

async function probe(target: Endpoint, config: Config, signal: AbortSignal): Promise<CheckResult> {
  // to the target, from bindto / bind_port / bind_if when the config sets them
  const sock = net.connect(tcpConnectOptions(target, config));
  const aborted = new Promise<never>((_, reject) => {
    const onAbort = (): void => reject(new Error('timed out'));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
  });
  const failed = new Promise<never>((_, reject) => sock.once('error', reject));
  try {
    await Promise.race([new Promise<void>((r) => sock.once('connect', () => r())), failed, aborted]);
    const run = async (): Promise<CheckResult> => {
      if (config.passwordFile) await command(sock, ['AUTH', fs.readFileSync(config.passwordFile, 'utf8').trim()]);
      const pong = await command(sock, ['PING']);
      if (pong !== 'PONG') return { ok: false, message: `PING answered '${pong}'` };
      if (config.expectRole) {
        const info = await command(sock, ['INFO', 'replication']);
        const role = /^role:(\w+)/m.exec(info)?.[1];
        if (role !== config.expectRole) return { ok: false, message: `role is ${role ?? 'unknown'}, expected ${config.expectRole}` };
      }
      return { ok: true, message: 'PONG' };
    };
    return await Promise.race([run(), failed, aborted]);
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  } finally {
    sock.destroy();
  }
}

const plugin: AlivedPlugin<Options> = {
  name: PLUGIN_NAME,
  version: '1.0.0',
  alived: '>=0.1.0 <1.0.0',
  options,
  apply(api) {
    const timeoutMs = (api.options?.timeout ?? 3) * 1000;
    api.registerChecker<Config>({
      keyword: 'REDIS_CHECK',
      schema,
      create(config, ctx): Checker {
        return {
          check(signal) {
            // the scheduler's signal aborts at connect_timeout; ours bounds the whole exchange
            const both = AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]);
            return probe(ctx.target, config, both);
          },
        };
      },
    });
  },
};

export default plugin;
