import { after } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { CheckerTester, tcpServer, type ServerBehaviour, type TestServer } from '../../core/testing';
import { PROJECT_ROOT, tmpDir } from '../helpers/config';

/**
 * The example custom check, tested the way a plugin author would: the tester
 * alived ships, a table of cases, each against a real redis-server started
 * for it. The plugin is enabled from the config's plugins block by its path,
 * as an operator would.
 */

const PLUGIN = path.join(PROJECT_ROOT, 'dist/examples/redis-check/redis-check.js');
const dir = tmpDir('alived-redis-tester-');
const started: ChildProcess[] = [];
after(() => {
  for (const p of started) if (p.exitCode === null) p.kill('SIGKILL');
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** a real redis-server on loopback, with the given arguments */
function redis(description: string, args: string[] = []): ServerBehaviour {
  return {
    description,
    protocol: 'tcp',
    async start(): Promise<TestServer> {
      const port = await freePort();
      const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...args], {
        stdio: 'ignore',
      });
      started.push(proc);
      const deadline = Date.now() + 10_000;
      for (;;) {
        const up = await new Promise<boolean>((resolve) => {
          const c = net.connect(port, '127.0.0.1', () => {
            c.destroy();
            resolve(true);
          });
          c.on('error', () => resolve(false));
        });
        if (up) break;
        if (Date.now() > deadline) throw new Error('redis-server did not start within 10 s (apt-get install redis-server)');
        await new Promise((r) => setTimeout(r, 50));
      }
      return {
        address: '127.0.0.1',
        port,
        protocol: 'tcp',
        // redis keeps its own books; the tester's connection checks read these
        openConnections: () => 0,
        received: () => 0,
        close: () =>
          new Promise<void>((resolve) => {
            if (proc.exitCode !== null) return resolve();
            proc.once('exit', () => resolve());
            proc.kill('SIGTERM');
          }),
      };
    },
  };
}

const passFile = path.join(dir, 'redis.pass');
fs.writeFileSync(passFile, 's3cret\n');

const tester = new CheckerTester({ plugin: PLUGIN, keyword: 'REDIS_CHECK', options: 'timeout 2' });

tester.run('REDIS_CHECK (examples/redis-check) against real redis-servers', [
  { name: 'a master answering PING: up', config: '', server: redis('a redis-server'), expect: { ok: true } },
  { name: 'expect_role master on a master: up', config: 'expect_role master', server: redis('a redis-server'), expect: { ok: true } },
  {
    name: 'expect_role slave on a master: down, and says why',
    config: 'expect_role slave',
    server: redis('a redis-server'),
    expect: { ok: false, message: /master/ },
  },
  {
    name: 'a password-protected server with the right password_file: up',
    config: `password_file ${passFile}`,
    server: redis('a redis-server with requirepass', ['--requirepass', 's3cret']),
    expect: { ok: true },
  },
  {
    name: 'a password-protected server without a password: down',
    config: '',
    server: redis('a redis-server with requirepass', ['--requirepass', 's3cret']),
    expect: { ok: false, message: /NOAUTH|auth/i },
  },
  { name: 'nothing listening (port 1): down', config: '', expect: { ok: false } },
  {
    name: 'a server that never answers: down at connect_timeout',
    config: 'connect_timeout 0.5',
    server: tcpServer(),
    expect: { ok: false, message: 'timed out' },
  },
  { name: "the real server's connect_timeout applies", config: '', realServer: 'connect_timeout 0.5', server: tcpServer(), expect: { ok: false } },
  {
    name: 'an unknown keyword is a config error with a suggestion',
    config: 'expect_rol master',
    errors: [/unknown keyword 'expect_rol'.*did you mean 'expect_role'/],
  },
]);
