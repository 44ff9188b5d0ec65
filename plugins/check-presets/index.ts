import {
  ALIVED_VERSION,
  block,
  bool,
  checkerCommonFields,
  checkerConnectionFields,
  filePath,
  int,
  one,
  str,
  value,
  word,
  type AlivedPlugin,
  type BlockOf,
  type Checker,
  type CheckerContext,
  type CheckResult,
  type Endpoint,
} from '../../core/sdk';
import { checkConnection } from '../shared/connection';
import { errorWords, findProcess, httpGet, isLocalAddress, ProbeFailed, socketCommand, type ProcessQuery } from './probes';

/**
 * Presets for the services operators put behind a VIP, so no shell script
 * is needed: NGINX_CHECK, HAPROXY_CHECK and TOMCAT_CHECK. Each is a checker
 * (usable in a real_server) and, through vrrp_check, a VRRP tracker. Each
 * goes beyond "the process exists": the process in this host's network
 * namespace, and the service answering (an HTTP URL, haproxy's stats
 * socket), so a stuck (SIGSTOPped) daemon fails too.
 */

const urlPath = str({ pattern: /^\//, patternText: 'a path starting with /', maxLength: 2048 });

const processField = value(one(bool)).doc("check the service's process on this host (yes/no); default yes when the checked address is this host's");

/** the part every preset shares */
const common = {
  ...checkerConnectionFields,
  ...checkerCommonFields,
  process: processField,
};

export const nginxCheckSchema = block(
  {
    ...common,
    url: word(urlPath).doc('the path to GET, e.g. /nginx_status (stub_status); default /'),
    status_code: word(int({ min: 100, max: 599 }))
      .default(200)
      .doc('the status the URL must answer; default 200'),
    virtualhost: word(str({ minLength: 1, maxLength: 253 })).doc('the Host header; default address:port'),
    pidfile: word(filePath()).doc("nginx's pid file (its master); default: any nginx master process in this network namespace"),
  },
  { check: (v, ctx, stmt) => checkConnection(v, ctx, stmt) },
);

export const haproxyCheckSchema = block(
  {
    ...common,
    stats_socket: word(filePath()).doc(
      'the stats socket (global: stats socket PATH); default /run/haproxy/admin.sock, or connect_ip/connect_port when connect_port is set',
    ),
    backend: word(str({ minLength: 1, maxLength: 256 })).doc('a backend whose servers must be up'),
    min_servers_up: word(int({ min: 1, max: 65535 }))
      .default(1)
      .doc('how many servers of the backend must be UP; default 1'),
    pidfile: word(filePath()).doc("haproxy's pid file (-p); default: any haproxy process in this network namespace"),
  },
  {
    check: (v, ctx, stmt) => {
      checkConnection(v, ctx, stmt);
      if (v.statsSocket !== undefined && v.connectPort !== undefined) {
        ctx.diags.warning('ALIVED_CONFIG_NO_EFFECT', v.pos, 'HAPROXY_CHECK: stats_socket is given, so connect_port is not used');
      }
    },
  },
);

export const tomcatCheckSchema = block(
  {
    ...common,
    url: word(urlPath).doc('the path to GET; default /'),
    status_code: word(int({ min: 100, max: 599 }))
      .default(200)
      .doc('the status the URL must answer; default 200'),
    virtualhost: word(str({ minLength: 1, maxLength: 253 })).doc('the Host header; default address:port'),
    catalina_base: word(filePath()).doc('only the Tomcat whose -Dcatalina.base is this (one of several on the host)'),
    pidfile: word(filePath()).doc('CATALINA_PID; default: a java process running org.apache.catalina.startup.Bootstrap'),
  },
  { check: (v, ctx, stmt) => checkConnection(v, ctx, stmt) },
);

export type NginxCheckConfig = BlockOf<typeof nginxCheckSchema>;
export type HaproxyCheckConfig = BlockOf<typeof haproxyCheckSchema>;
export type TomcatCheckConfig = BlockOf<typeof tomcatCheckSchema>;

function hostPort(t: Endpoint): string {
  return t.address.includes(':') ? `[${t.address}]:${t.port}` : `${t.address}:${t.port}`;
}

/** A preset's steps in order; the first that fails is the message. */
function preset(name: string, where: string, steps: Array<(signal: AbortSignal) => Promise<string | undefined> | string | undefined>): Checker {
  return {
    async check(signal): Promise<CheckResult> {
      const notes: string[] = [];
      for (const step of steps) {
        try {
          const note = await step(signal);
          if (note) notes.push(note);
        } catch (err) {
          return { ok: false, message: `${name} ${where}: ${errorWords(err, signal)}` };
        }
        if (signal.aborted) return { ok: false, message: `${name} ${where}: ${errorWords(undefined, signal)}` };
      }
      return { ok: true, message: `${name} ${where}: ${notes.join(', ')}` };
    },
  };
}

function processStep(config: { process?: boolean }, target: Endpoint, query: ProcessQuery, what: string): Array<() => string> {
  const on = config.process ?? isLocalAddress(target.address);
  if (!on) return [];
  return [
    () => {
      const r = findProcess(query);
      if ('missing' in r) throw new ProbeFailed(r.missing);
      return `${what} ${r.pid} running`;
    },
  ];
}

function httpStep(target: Endpoint, path: string, status: number, host: string | undefined): (signal: AbortSignal) => Promise<string> {
  return async (signal) => {
    const r = await httpGet(target, path, host, signal);
    if (r.status !== status) throw new ProbeFailed(`GET ${path}: status ${r.status}, expected ${status}`);
    // stub_status: "Active connections: 1"
    const active = /Active connections:\s*(\d+)/.exec(r.body);
    return `GET ${path} ${r.status}${active ? ` (${active[1]} active connections)` : ''}`;
  };
}

export function createNginxChecker(config: NginxCheckConfig, ctx: CheckerContext): Checker {
  const target = { ...ctx.target, port: ctx.target.port || 80 };
  return preset('NGINX_CHECK', hostPort(target), [
    ...processStep(
      config,
      target,
      { comm: 'nginx', cmdline: (l) => l.startsWith('nginx: master process'), ...(config.pidfile ? { pidfile: config.pidfile } : {}) },
      'master',
    ),
    httpStep(target, config.url ?? '/', config.statusCode, config.virtualhost),
  ]);
}

/** `show stat` CSV: the servers of a backend and their status */
function serversUp(csv: string, backend: string): { up: number; total: number } {
  const lines = csv.split('\n');
  const header = (lines[0] ?? '').replace(/^# /, '').split(',');
  const px = header.indexOf('pxname');
  const sv = header.indexOf('svname');
  const st = header.indexOf('status');
  let up = 0;
  let total = 0;
  for (const l of lines.slice(1)) {
    const f = l.split(',');
    if (f[px] !== backend || f[sv] === 'FRONTEND' || f[sv] === 'BACKEND' || f[sv] === undefined) continue;
    total++;
    if (/^UP/.test(f[st] ?? '')) up++;
  }
  return { up, total };
}

export function createHaproxyChecker(config: HaproxyCheckConfig, ctx: CheckerContext): Checker {
  const socket: { path: string } | Endpoint =
    config.statsSocket !== undefined ? { path: config.statsSocket } : config.connectPort !== undefined ? ctx.target : { path: '/run/haproxy/admin.sock' };
  const where = 'path' in socket ? socket.path : hostPort(socket);
  // the process part looks at this host: with a UNIX socket haproxy is local by definition
  const local = 'path' in socket ? { ...ctx.target, address: '127.0.0.1' } : ctx.target;
  return preset('HAPROXY_CHECK', where, [
    ...processStep(config, local, { comm: 'haproxy', ...(config.pidfile ? { pidfile: config.pidfile } : {}) }, 'haproxy'),
    async (signal) => {
      const info = await socketCommand(socket, 'show info', signal);
      const pid = /^Pid:\s*(\d+)/m.exec(info);
      if (!/^Name:\s*HAProxy/m.test(info) || !pid) throw new ProbeFailed(`'show info' gave no HAProxy answer${info ? `: ${info.trim().slice(0, 80)}` : ''}`);
      if (/^Stopping:\s*1/m.test(info)) throw new ProbeFailed(`haproxy ${pid[1]} is stopping`);
      return `show info: pid ${pid[1]}`;
    },
    async (signal) => {
      if (config.backend === undefined) return undefined;
      const stat = await socketCommand(socket, 'show stat', signal);
      const { up, total } = serversUp(stat, config.backend);
      if (total === 0) throw new ProbeFailed(`backend ${config.backend} has no servers (or does not exist)`);
      if (up < config.minServersUp) throw new ProbeFailed(`backend ${config.backend}: ${up} of ${total} servers up, ${config.minServersUp} needed`);
      return `backend ${config.backend} ${up}/${total} up`;
    },
  ]);
}

export function createTomcatChecker(config: TomcatCheckConfig, ctx: CheckerContext): Checker {
  const target = { ...ctx.target, port: ctx.target.port || 8080 };
  const base = config.catalinaBase;
  return preset('TOMCAT_CHECK', hostPort(target), [
    ...processStep(
      config,
      target,
      {
        comm: 'java',
        cmdline: (l) => l.includes('org.apache.catalina.startup.Bootstrap') && (base === undefined || l.includes(`-Dcatalina.base=${base}`)),
        ...(config.pidfile ? { pidfile: config.pidfile } : {}),
      },
      'catalina',
    ),
    httpStep(target, config.url ?? '/', config.statusCode, config.virtualhost),
  ]);
}

const plugin: AlivedPlugin = {
  name: 'check-presets',
  version: ALIVED_VERSION,
  apply(api) {
    api.registerChecker({ keyword: 'NGINX_CHECK', schema: nginxCheckSchema, create: createNginxChecker });
    api.registerChecker({ keyword: 'HAPROXY_CHECK', schema: haproxyCheckSchema, create: createHaproxyChecker });
    api.registerChecker({ keyword: 'TOMCAT_CHECK', schema: tomcatCheckSchema, create: createTomcatChecker });
  },
};

export default plugin;
