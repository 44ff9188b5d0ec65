import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { GUEST_MODULES, prepareVmImage, VmSetupError, type VmImage } from './image';

/**
 * Runs one shell command inside a throw-away QEMU VM that boots Debian's
 * kernel with IPVS loaded. The guest's root is the host's `/` (read-only
 * 9p, tmpfs overlay: the guest may write anywhere, nothing reaches the
 * host) plus one host directory shared read-write (`runDir`), which holds
 * the command and receives what the guest writes there. The guest has no
 * network device: only `lo`, and the namespaces its tests make.
 *
 * Acceleration: KVM only when a real KVM module (kvm_intel / kvm_amd) is
 * loaded; the /dev/kvm of these machines is a paravirtual flavour a stock
 * kernel hangs on, so software emulation (TCG) is the rule here.
 */

export interface VmRunOptions {
  /** shell command, run by /bin/sh as root in `cwd` */
  readonly command: string;
  /** the guest's working directory; default process.cwd() (it must be visible through the host's /) */
  readonly cwd?: string;
  /** environment variables given to the command (the guest starts from an empty environment) */
  readonly env?: Readonly<Record<string, string>>;
  /** whole run, boot included; the VM is killed after it; default 20 minutes */
  readonly timeoutMs?: number;
  readonly memoryMb?: number;
  readonly cpus?: number;
  /** a host directory shared read-write at the same path; default a fresh temp directory, removed after */
  readonly runDir?: string;
  /** every console line, as it comes */
  readonly onLine?: (line: string) => void;
  readonly image?: VmImage;
}

export interface VmRunResult {
  /** the command's exit status; undefined when the VM never reported one (crash, timeout) */
  readonly exitCode: number | undefined;
  /** launch to ALIVED-VM-READY, ms (undefined when the guest never got there) */
  readonly bootMs: number | undefined;
  /** launch to the end of QEMU, ms */
  readonly totalMs: number;
  readonly accel: 'kvm' | 'tcg';
  readonly console: string;
  readonly timedOut: boolean;
}

export function vmAccel(): 'kvm' | 'tcg' {
  const forced = process.env.ALIVED_VM_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return forced;
  let w = false;
  try {
    fs.accessSync('/dev/kvm', fs.constants.W_OK);
    w = true;
  } catch {
    // no KVM
  }
  return w && (fs.existsSync('/sys/module/kvm_intel') || fs.existsSync('/sys/module/kvm_amd')) ? 'kvm' : 'tcg';
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function runInVm(opts: VmRunOptions): Promise<VmRunResult> {
  const image = opts.image ?? prepareVmImage();
  const cwd = path.resolve(opts.cwd ?? process.cwd());
  const ownRunDir = opts.runDir === undefined;
  const runDir = path.resolve(opts.runDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'alived-vm-')));
  for (const p of [cwd, runDir, image.modulesDir]) {
    if (/\s/.test(p)) throw new VmSetupError(`a path the VM uses has a space, which the kernel command line cannot carry: '${p}'`);
  }
  const exports = Object.entries(opts.env ?? {})
    .map(([k, v]) => `export ${k}=${shellQuote(v)}\n`)
    .join('');
  fs.writeFileSync(path.join(runDir, 'cmd.sh'), `${exports}cd ${shellQuote(cwd)} || exit 120\n${opts.command}\n`);

  const accel = vmAccel();
  const args = [
    '-nodefaults',
    '-no-user-config',
    '-no-reboot',
    ...(accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host,-arch-capabilities'] : ['-accel', 'tcg,thread=multi', '-cpu', 'max']),
    '-machine',
    'q35',
    '-smp',
    String(opts.cpus ?? 2),
    '-m',
    String(opts.memoryMb ?? 2048),
    '-kernel',
    image.kernel,
    '-initrd',
    image.initramfs,
    '-append',
    [
      'console=ttyS0',
      'quiet',
      'loglevel=3',
      'panic=-1',
      'rdinit=/init',
      'random.trust_cpu=on',
      `alived.kmod=${image.modulesDir}`,
      `alived.run=${runDir}`,
      `alived.mods=${GUEST_MODULES.join(',')}`,
    ].join(' '),
    '-display',
    'none',
    '-monitor',
    'none',
    '-chardev',
    'stdio,id=con,signal=off',
    '-serial',
    'chardev:con',
    '-device',
    'virtio-rng-pci',
    '-virtfs',
    'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
    '-virtfs',
    `local,path=${runDir},mount_tag=runshare,security_model=none,multidevs=remap`,
  ];
  const started = Date.now();
  const timeoutMs = opts.timeoutMs ?? 20 * 60_000;
  let bootMs: number | undefined;
  let exitCode: number | undefined;
  let consoleText = '';
  let pending = '';
  let timedOut = false;
  const onData = (d: Buffer): void => {
    pending += d.toString('utf8');
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl).replace(/\r$/, '');
      pending = pending.slice(nl + 1);
      consoleText += `${line}\n`;
      if (bootMs === undefined && line.startsWith('ALIVED-VM-READY')) bootMs = Date.now() - started;
      const m = /^ALIVED-VM-EXIT=(\d+)/.exec(line);
      if (m) exitCode = Number(m[1]);
      opts.onLine?.(line);
    }
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const qemu = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      qemu.stdout.on('data', onData);
      qemu.stderr.on('data', onData);
      const timer = setTimeout(() => {
        timedOut = true;
        qemu.kill('SIGKILL');
      }, timeoutMs);
      qemu.on('error', (err) => {
        clearTimeout(timer);
        reject(new VmSetupError(`cannot start qemu-system-x86_64 (install qemu-system-x86): ${err.message}`));
      });
      qemu.on('close', () => {
        clearTimeout(timer);
        if (pending) onData(Buffer.from('\n'));
        resolve();
      });
    });
  } finally {
    if (ownRunDir) fs.rmSync(runDir, { recursive: true, force: true });
  }
  return { exitCode, bootMs, totalMs: Date.now() - started, accel, console: consoleText, timedOut };
}
