import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

/**
 * The real services of the service-probe tests, from Debian's packages:
 * MariaDB, nginx, haproxy and Tomcat 10, each started by the test (in the
 * foreground, in its own process group, with its own files under a temp
 * dir), on loopback or inside a lab namespace (`spawner`), and stopped by
 * PID. A missing package fails the test with what to install.
 */

export type Spawner = (argv: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string }) => ChildProcess;

/** runs directly, on this host (loopback only) */
export const localSpawner: Spawner = (argv, opts) => spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...opts });

/** Throws, saying what to install, when a program is missing. */
export function requireProgram(file: string, pkg: string): void {
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: install the Debian package '${pkg}' (bash scripts/setup-debian.sh installs it with apt-get)`);
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** Waits for a started service to be ready; stops it (by its group) when it is not. */
async function ready(svc: Service, cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  try {
    await waitFor(async () => !svc.running || (await cond()), ms, what);
    if (!svc.running) throw new Error(`${svc.name} exited`);
  } catch (err) {
    await svc.stop();
    throw new Error(`${(err as Error).message}: ${svc.describe()}`);
  }
}

export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A started service: its main process, its output, and how to stop it. */
export class Service {
  readonly output: string[] = [];
  readonly exited: Promise<void>;
  constructor(
    readonly name: string,
    readonly proc: ChildProcess,
  ) {
    const take = (d: Buffer): void => {
      for (const l of d.toString().split('\n')) if (l) this.output.push(l);
    };
    proc.stdout?.on('data', take);
    proc.stderr?.on('data', take);
    this.exited = new Promise((r) => proc.once('exit', () => r()));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  get running(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** signals the main process only */
  signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch {
      // gone
    }
  }

  /** SIGKILL to the whole group (workers included); waits for the main process */
  async stop(): Promise<void> {
    try {
      process.kill(-this.pid, 'SIGCONT');
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // gone
    }
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 5000))]);
  }

  describe(): string {
    return `${this.name} (pid ${this.pid}):\n${this.output.slice(-20).join('\n')}`;
  }
}

function httpUp(host: string, port: number, p = '/'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port }, () => {
      s.write(`GET ${p} HTTP/1.0\r\nHost: ${host}\r\n\r\n`);
    });
    let got = '';
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
    s.on('data', (d) => (got += d.toString()));
    s.on('end', () => resolve(/^HTTP\/1\.\d 200/.test(got)));
    s.on('error', () => resolve(false));
  });
}

// ---------------------------------------------------------------------------
// MariaDB

export interface MariaDb extends Service {
  readonly port: number;
  readonly socket: string;
  /** runs SQL as root through the socket (mariadb client) */
  sql(statement: string): string;
}

let mariadbTemplate: string | undefined;

/** A datadir made once per test process (mariadb-install-db), copied for each server; a restart in the same dir keeps its data. */
function mariadbDatadir(dir: string): string {
  requireProgram('/usr/sbin/mariadbd', 'mariadb-server');
  requireProgram('/usr/bin/mariadb', 'mariadb-client');
  if (!mariadbTemplate) {
    const t = path.join(path.dirname(dir), `mariadb-template-${process.pid}`);
    if (!fs.existsSync(path.join(t, 'mysql'))) {
      const r = spawnSync(
        'mariadb-install-db',
        ['--no-defaults', `--datadir=${t}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'],
        {
          encoding: 'utf8',
          timeout: 60_000,
        },
      );
      if (r.status !== 0) throw new Error(`mariadb-install-db failed: ${r.stderr || r.stdout}`);
    }
    mariadbTemplate = t;
  }
  const d = path.join(dir, 'data');
  if (!fs.existsSync(d)) spawnSync('cp', ['-a', mariadbTemplate, d]);
  return d;
}

export async function startMariaDb(
  dir: string,
  opts: { port?: number; serverId?: number; logBin?: boolean; spawner?: Spawner; bindAddress?: string; extraArgs?: string[] } = {},
): Promise<MariaDb> {
  fs.mkdirSync(dir, { recursive: true });
  const datadir = mariadbDatadir(dir);
  const port = opts.port ?? (await freePort());
  const socket = path.join(dir, 'mysqld.sock');
  const argv = [
    '/usr/sbin/mariadbd',
    '--no-defaults',
    `--datadir=${datadir}`,
    `--socket=${socket}`,
    `--port=${port}`,
    `--bind-address=${opts.bindAddress ?? '127.0.0.1'}`,
    '--user=root',
    `--pid-file=${path.join(dir, 'mysqld.pid')}`,
    '--skip-name-resolve',
    '--innodb-buffer-pool-size=16M',
    '--performance-schema=off',
    `--server-id=${opts.serverId ?? 1}`,
    ...(opts.logBin ? [`--log-bin=${path.join(dir, 'binlog')}`] : ['--skip-log-bin']),
    ...(opts.extraArgs ?? []),
  ];
  const proc = (opts.spawner ?? localSpawner)(argv, {});
  const svc = new Service('mariadbd', proc) as MariaDb;
  Object.assign(svc, {
    port,
    socket,
    sql(statement: string): string {
      const r = spawnSync('mariadb', ['-S', socket, '-u', 'root', '-N', '-B', '-e', statement], { encoding: 'utf8', timeout: 20_000 });
      if (r.status !== 0) throw new Error(`mariadb -e ${statement}: ${r.stderr}`);
      return r.stdout.trim();
    },
  });
  await ready(
    svc,
    () => spawnSync('mariadb', ['-S', socket, '-u', 'root', '-e', 'SELECT 1'], { stdio: 'ignore', timeout: 5000 }).status === 0,
    30_000,
    'mariadbd to answer',
  );
  return svc;
}

// ---------------------------------------------------------------------------
// nginx

export interface Nginx extends Service {
  readonly conf: string;
}

/** nginx in the foreground (daemon off), one worker, serving / and /nginx_status (stub_status) on address:port. */
export async function startNginx(
  dir: string,
  address: string,
  port: number,
  opts: { spawner?: Spawner; waitFrom?: (host: string, port: number) => Promise<boolean> } = {},
): Promise<Nginx> {
  requireProgram('/usr/sbin/nginx', 'nginx');
  fs.mkdirSync(path.join(dir, 'html'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'html', 'index.html'), 'hello\n');
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    conf,
    `daemon off;
master_process on;
user root;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fastcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  server {
    listen ${address}:${port};
    root ${dir}/html;
    location = /nginx_status { stub_status; }
  }
}
`,
  );
  const proc = (opts.spawner ?? localSpawner)(['/usr/sbin/nginx', '-c', conf, '-p', dir], {});
  const svc = new Service('nginx', proc) as Nginx;
  Object.assign(svc, { conf });
  await ready(svc, () => (opts.waitFrom ?? httpUp)(address, port), 15_000, `nginx on ${address}:${port}`);
  return svc;
}

// ---------------------------------------------------------------------------
// haproxy

export interface Haproxy extends Service {
  readonly statsSocket: string;
}

/**
 * haproxy in the foreground (-db): a frontend on address:port, backend `app`
 * with the given servers, a stats socket (`admin.sock`, its path as
 * haproxy sees it: under `seenAs`).
 */
export async function startHaproxy(
  dir: string,
  address: string,
  port: number,
  servers: string[],
  opts: { spawner?: Spawner; seenAs?: string } = {},
): Promise<Haproxy> {
  requireProgram('/usr/sbin/haproxy', 'haproxy');
  fs.mkdirSync(dir, { recursive: true });
  const inside = opts.seenAs ?? dir;
  const statsSocket = path.join(inside, 'admin.sock');
  fs.writeFileSync(
    path.join(dir, 'haproxy.cfg'),
    `global
  stats socket ${statsSocket} mode 600 level admin
  pidfile ${inside}/haproxy.pid
defaults
  mode http
  timeout connect 1s
  timeout client 5s
  timeout server 5s
frontend web
  bind ${address}:${port}
  default_backend app
backend app
${servers.map((s, i) => `  server s${i + 1} ${s} check inter 200 fall 1 rise 1`).join('\n')}
`,
  );
  const proc = (opts.spawner ?? localSpawner)(['/usr/sbin/haproxy', '-db', '-f', path.join(inside, 'haproxy.cfg')], {});
  const svc = new Service('haproxy', proc) as Haproxy;
  Object.assign(svc, { statsSocket });
  await ready(svc, () => fs.existsSync(path.join(dir, 'admin.sock')), 15_000, 'haproxy stats socket');
  return svc;
}

// ---------------------------------------------------------------------------
// Tomcat

export const CATALINA_HOME = '/usr/share/tomcat10';

/**
 * Tomcat 10 (java running org.apache.catalina.startup.Bootstrap) with its
 * own CATALINA_BASE (`dir`; `seenAs` when it is mounted elsewhere for
 * Tomcat), an HTTP connector on address:port and a ROOT app that serves
 * /health and /health.txt.
 */
export async function startTomcat(
  dir: string,
  address: string,
  port: number,
  opts: { spawner?: Spawner; waitFrom?: (host: string, port: number) => Promise<boolean>; seenAs?: string } = {},
): Promise<Service> {
  requireProgram(path.join(CATALINA_HOME, 'bin', 'bootstrap.jar'), 'tomcat10');
  requireProgram('/usr/bin/java', 'default-jre-headless');
  for (const d of ['conf', 'logs', 'temp', 'work', 'webapps/ROOT']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  for (const f of ['web.xml', 'logging.properties', 'catalina.properties', 'context.xml'])
    fs.copyFileSync(path.join(CATALINA_HOME, 'etc', f), path.join(dir, 'conf', f));
  fs.writeFileSync(path.join(dir, 'webapps', 'ROOT', 'index.html'), 'tomcat\n');
  for (const f of ['health', 'health.txt']) fs.writeFileSync(path.join(dir, 'webapps', 'ROOT', f), 'ok\n');
  fs.writeFileSync(
    path.join(dir, 'conf', 'server.xml'),
    `<?xml version="1.0" encoding="UTF-8"?>
<Server port="-1" shutdown="SHUTDOWN">
  <Service name="Catalina">
    <Connector port="${port}" address="${address}" protocol="HTTP/1.1" connectionTimeout="5000" />
    <Engine name="Catalina" defaultHost="localhost">
      <Host name="localhost" appBase="webapps" unpackWARs="false" autoDeploy="false" />
    </Engine>
  </Service>
</Server>
`,
  );
  const base = opts.seenAs ?? dir;
  const argv = [
    '/usr/bin/java',
    '-Xmx96m',
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    '-Xshare:auto',
    `-Dcatalina.home=${CATALINA_HOME}`,
    `-Dcatalina.base=${base}`,
    `-Djava.io.tmpdir=${base}/temp`,
    `-Djava.util.logging.config.file=${base}/conf/logging.properties`,
    '-Djava.util.logging.manager=org.apache.juli.ClassLoaderLogManager',
    '-cp',
    `${CATALINA_HOME}/bin/bootstrap.jar:${CATALINA_HOME}/bin/tomcat-juli.jar`,
    'org.apache.catalina.startup.Bootstrap',
    'start',
  ];
  const proc = (opts.spawner ?? localSpawner)(argv, { cwd: base });
  const svc = new Service('tomcat', proc);
  await ready(svc, () => (opts.waitFrom ?? httpUp)(address, port), 60_000, `tomcat on ${address}:${port}`);
  return svc;
}
