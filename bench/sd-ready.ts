/**
 * How soon alived tells systemd it is ready: the unit's ExecStartPre (`alived
 * -t`) and ExecStart (`alived -n -l -G`) run as systemd runs them, in a
 * network namespace of their own, with NOTIFY_SOCKET pointing at a datagram
 * socket this benchmark listens on (test/systemd/notify-receiver.ts). The
 * config: one VRRP instance and one virtual server with a TCP_CHECK, as
 * bench/daemon-startup.ts. Printed: the config test's time, the time from
 * the daemon's spawn to READY=1, and the two together (what `systemctl
 * start` waits for). Prints figures; asserts nothing. Needs root and python3.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Lab } from '../core/lab/netns';
import { NotifyReceiver } from '../test/systemd/notify-receiver';
import { QUICK, envInt, fmt, summarize, table } from './vrrp-common';

const RUNS = envInt('BENCH_RUNS', QUICK ? 3 : 10);
const BIN = path.join(__dirname, '..', 'core', 'cli', 'main.js');

function config(ifname: string, ip: string): string {
  const vip = ip.replace(/\d+$/, '100');
  return `vrrp_instance VI_1 {
    state BACKUP
    interface ${ifname}
    virtual_router_id 51
    priority 100
    advert_int 1
    virtual_ipaddress {
        ${vip}/24
    }
}
virtual_server ${vip} 80 {
    delay_loop 5
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ${ip} 80 {
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`;
}

/** ExecStartPre: `alived -t`, ms */
async function configTest(lab: Lab, conf: string): Promise<number> {
  const t0 = performance.now();
  const r = await lab.exec(lab.hosts[0]!, [process.execPath, BIN, '-t', '-f', conf], 30_000);
  if (r.code !== 0) throw new Error(`alived -t failed (${r.code}): ${r.stderr}`);
  return performance.now() - t0;
}

/** ExecStart: spawn to READY=1, ms */
async function toReady(lab: Lab, dir: string, receiver: NotifyReceiver, run: number): Promise<number> {
  const from = receiver.messages.length;
  const t0 = performance.now();
  const child = lab.spawn(
    lab.hosts[0]!,
    [
      process.execPath,
      BIN,
      '-n',
      '-l',
      '-G',
      '-f',
      path.join(dir, 'k.conf'),
      '--state-dir',
      path.join(dir, `state-${run}`),
      '-p',
      path.join(dir, `pid-${run}`),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: receiver.address } },
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  try {
    await receiver.next('READY=1', (m) => m.fields.READY === '1' && m.pid === child.pid, from, 20_000);
    return performance.now() - t0;
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${log}`);
  } finally {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-bench-sd-'));
  const lab = await Lab.create({ name: 'sdready', hosts: [{ name: 'n1', ip: '10.78.0.1' }] });
  const receiver = await NotifyReceiver.listen(path.join(dir, 'notify.sock'), dir);
  try {
    const conf = path.join(dir, 'k.conf');
    fs.writeFileSync(conf, config(lab.hosts[0]!.ifname, lab.hosts[0]!.ip));
    const tests: number[] = [];
    const readies: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      tests.push(await configTest(lab, conf));
      readies.push(await toReady(lab, dir, receiver, i));
    }
    const row = (what: string, xs: number[]): string[] => {
      const s = summarize(xs);
      return [what, `${fmt(s.median, 0)} ms`, `${fmt(s.min, 0)} ms`, `${fmt(s.max, 0)} ms`];
    };
    console.log(
      table(
        `sd-ready: what \`systemctl start alived\` waits for, ${RUNS} runs (one VRRP instance, one virtual server with a TCP_CHECK)`,
        ['step', 'median', 'min', 'max'],
        [
          row('ExecStartPre: alived -t', tests),
          row('ExecStart: spawn to READY=1', readies),
          row(
            'both',
            tests.map((t, i) => t + readies[i]!),
          ),
        ],
      ),
    );
  } finally {
    await receiver.close();
    await lab.destroy();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`sd-ready: ${(err as Error).message}`);
  process.exitCode = 1;
});
