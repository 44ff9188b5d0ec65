import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * What the IPVS test VM boots: Debian's own kernel (linux-image-amd64, which
 * builds ip_vs and its schedulers as modules), unpacked — never installed —
 * into a cache directory outside the repository, and a small initramfs that
 * mounts the host's root filesystem read-only over virtio-9p with a tmpfs
 * overlay on top, loads the IPVS modules and runs one command.
 *
 * The kernel package is fetched once with `apt-get download` (apt is the
 * only network here) and kept for later runs; the initramfs is rebuilt when
 * its init script or the kernel changes. Nothing here fails quietly: a
 * missing tool or package is an error that says what to install.
 */

export const DEFAULT_CACHE_DIR = '/var/cache/alived-vm';

/** Modules the initramfs needs to reach the host's filesystem. */
const BOOT_MODULES = ['virtio_pci', 'virtio_rng', '9pnet_virtio', '9p', 'overlay'];

/**
 * Modules loaded before the command runs: IPVS with every scheduler the
 * config may name, the SIP persistence engine, and what the tests' network
 * namespaces use (veth, bridge, the IPIP/GRE/GUE tunnels of lvs_method TUN).
 */
export const GUEST_MODULES = [
  'ip_vs',
  // twos came in Linux 6.7: not in Debian 12's kernel
  ...['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'mh', 'sed', 'nq', 'fo', 'ovf'].map((s) => `ip_vs_${s}`),
  'ip_vs_pe_sip',
  'veth',
  'bridge',
  'ipip',
  'ip_gre',
  'fou',
];

export interface VmImage {
  /** the kernel release, e.g. 6.1.0-56-amd64 */
  readonly release: string;
  /** the uncompressed ELF kernel (booted through its PVH entry: no in-guest decompression), else the bzImage */
  readonly kernel: string;
  readonly initramfs: string;
  /** lib/modules of the unpacked kernel, shared with the guest through the host's root */
  readonly modulesDir: string;
}

export class VmSetupError extends Error {
  readonly code = 'ALIVED_VM_SETUP';
}

function run(cmd: string, args: string[], opts: { cwd?: string; input?: Buffer; what: string }): Buffer {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, input: opts.input, maxBuffer: 512 * 1024 * 1024, timeout: 600_000 });
  if (r.error) throw new VmSetupError(`${opts.what}: cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0)
    throw new VmSetupError(`${opts.what}: ${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr.toString().trim().slice(-2000)}`);
  return r.stdout;
}

function need(tool: string, pkg: string): void {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new VmSetupError(`the IPVS VM needs ${tool}: install the Debian package ${pkg} (bash scripts/setup-debian.sh does)`);
}

/** The kernel, unpacked in `<cache>/kernel`; fetched with apt-get download the first time. */
function ensureKernel(cache: string): { root: string; release: string } {
  const root = path.join(cache, 'kernel');
  const done = path.join(root, '.done');
  if (!fs.existsSync(done)) {
    need('apt-get', 'apt');
    need('dpkg-deb', 'dpkg');
    need('depmod', 'kmod');
    const dl = fs.mkdtempSync(path.join(cache, 'dl-'));
    try {
      const fetch = (pkg: string): void => {
        run('apt-get', ['download', pkg], { cwd: dl, what: `downloading ${pkg} (run 'apt-get update' first if apt does not know it)` });
      };
      fetch('linux-image-amd64');
      const meta = fs.readdirSync(dl).find((f) => f.startsWith('linux-image-amd64_'));
      if (!meta) throw new VmSetupError('apt-get download linux-image-amd64 left no package');
      const depends = run('dpkg-deb', ['-f', path.join(dl, meta), 'Depends'], { what: 'reading linux-image-amd64' }).toString();
      const image = /linux-image-[0-9][^ ,]*-amd64/.exec(depends)?.[0];
      if (!image) throw new VmSetupError(`linux-image-amd64 depends on no kernel image: '${depends.trim()}'`);
      fetch(image);
      const deb = fs.readdirSync(dl).find((f) => f.startsWith(`${image}_`));
      if (!deb) throw new VmSetupError(`apt-get download ${image} left no package`);
      fs.rmSync(root, { recursive: true, force: true });
      fs.mkdirSync(root, { recursive: true });
      run('dpkg-deb', ['-x', path.join(dl, deb), root], { what: `unpacking ${deb}` });
    } finally {
      fs.rmSync(dl, { recursive: true, force: true });
    }
    const release = fs.readdirSync(path.join(root, 'lib/modules'))[0]!;
    // the package ships no modules.dep: depmod writes it (and the aliases the kernel's autoload needs)
    run('depmod', ['-b', root, release], { what: 'indexing the kernel modules' });
    extractVmlinux(path.join(root, 'boot', `vmlinuz-${release}`), path.join(root, 'vmlinux'));
    fs.writeFileSync(done, `${release}\n`);
  }
  return { root, release: fs.readFileSync(done, 'utf8').trim() };
}

/**
 * The ELF kernel inside the bzImage (an xz stream): QEMU boots it through
 * its PVH note, which skips the firmware's loader and the decompression
 * under emulation (about 3 s). Left absent when extraction fails; the
 * bzImage boots then.
 */
function extractVmlinux(bzImage: string, out: string): void {
  const img = fs.readFileSync(bzImage);
  const at = img.indexOf(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]));
  if (at < 0) return;
  // the stream is followed by the bzImage's trailer: xz complains, the ELF is whole
  const r = spawnSync('xz', ['-dc'], { input: img.subarray(at), maxBuffer: 256 * 1024 * 1024 });
  const elf = r.stdout;
  if (elf && elf.length > 4 && elf.readUInt32BE(0) === 0x7f454c46) fs.writeFileSync(out, elf);
}

/**
 * The init of the initramfs. Kernel parameters `alived.*` carry the paths:
 * kmod (the unpacked kernel's lib/modules), run (the host directory shared
 * read-write, which holds cmd.sh and receives results), mods (modules to
 * load). Prints ALIVED-VM-READY when the command starts and
 * ALIVED-VM-EXIT=<status> when it ends, then powers off.
 */
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
param() { tr ' ' '\\n' < /proc/cmdline | sed -n "s/^alived\\.$1=//p"; }
fail() { echo "ALIVED-VM-FAIL $*"; poweroff -f; }
for m in ${BOOT_MODULES.join(' ')}; do modprobe $m || echo "modprobe $m failed"; done
P9=trans=virtio,version=9p2000.L,msize=512000,cache=loose
mount -t 9p -o ro,$P9 hostroot /mnt/host || fail "cannot mount the host's root over 9p"
mount -t tmpfs -o mode=755 tmpfs /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
if ! mount -t overlay overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work /newroot; then
  echo "overlay failed: read-only root with tmpfs on /var/tmp and /root"
  mount --bind /mnt/host /newroot
  for d in var/tmp root; do mount -t tmpfs tmpfs /newroot/$d; done
fi
KMOD=/mnt/host$(param kmod)
# the kernel's module autoload runs /sbin/modprobe of this root (busybox): it reads the same tree
mount --bind "$KMOD" /lib/modules
mkdir -p /newroot/lib/modules && mount --bind "$KMOD" /newroot/lib/modules
for m in $(param mods | tr , ' '); do modprobe $m || fail "modprobe $m failed"; done
RUN=$(param run)
mkdir -p /newroot$RUN && mount -t 9p -o $P9 runshare /newroot$RUN || fail "cannot mount the run directory"
mount -t proc proc /newroot/proc
mount -t sysfs sys /newroot/sys
mount -t devtmpfs dev /newroot/dev
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs tmpfs /newroot/dev/shm
mount -t tmpfs tmpfs /newroot/run
ip link set lo up
echo "ALIVED-VM-READY $(cut -d' ' -f1 /proc/uptime)"
chroot /newroot /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root /bin/sh "$RUN/cmd.sh" < /dev/console > /dev/console 2>&1
echo "ALIVED-VM-EXIT=$? $(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
`;

/** Copies the boot modules and their dependencies into the initramfs tree. */
function addBootModules(modDir: string, release: string, tree: string): void {
  const dep = fs.readFileSync(path.join(modDir, 'modules.dep'), 'utf8');
  const deps = new Map<string, string[]>();
  for (const line of dep.split('\n')) {
    const [mod, rest] = line.split(':');
    if (mod) deps.set(mod, (rest ?? '').trim().split(/\s+/).filter(Boolean));
  }
  const seen = new Set<string>();
  const add = (rel: string): void => {
    if (seen.has(rel)) return;
    seen.add(rel);
    const dst = path.join(tree, 'lib/modules', release, rel);
    fs.mkdirSync(path.dirname(dst), { recursive: true });
    fs.copyFileSync(path.join(modDir, rel), dst);
    for (const d of deps.get(rel) ?? []) add(d);
  };
  for (const m of BOOT_MODULES) {
    const rel = [...deps.keys()].find(
      (k) =>
        path
          .basename(k)
          .replace(/\.ko(\.[a-z]+)?$/, '')
          .replace(/-/g, '_') === m,
    );
    if (!rel) throw new VmSetupError(`the kernel ${release} has no module ${m}`);
    add(rel);
  }
  run('depmod', ['-b', tree, release], { what: 'indexing the initramfs modules' });
}

function ensureInitramfs(cache: string, kernelRoot: string, release: string): string {
  need('busybox', 'busybox-static');
  const busybox = '/bin/busybox';
  const hash = crypto.createHash('sha256').update(INIT).update(release).update(BOOT_MODULES.join(',')).digest('hex').slice(0, 12);
  const out = path.join(cache, `initramfs-${hash}.cpio.gz`);
  if (fs.existsSync(out)) return out;
  if (!fs.existsSync(busybox)) throw new VmSetupError('the IPVS VM needs a static /bin/busybox: install busybox-static');
  const tree = fs.mkdtempSync(path.join(cache, 'initramfs-'));
  try {
    for (const d of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'proc', 'sys', 'dev', 'tmp', 'run', 'mnt/host', 'mnt/rw', 'newroot', 'lib/modules']) {
      fs.mkdirSync(path.join(tree, d), { recursive: true });
    }
    fs.copyFileSync(busybox, path.join(tree, 'bin/busybox'));
    fs.chmodSync(path.join(tree, 'bin/busybox'), 0o755);
    fs.writeFileSync(path.join(tree, 'init'), INIT, { mode: 0o755 });
    addBootModules(path.join(kernelRoot, 'lib/modules', release), release, tree);
    const cpio = run('sh', ['-c', 'find . | /bin/busybox cpio -o -H newc -R 0:0 2>/dev/null | gzip -1'], { cwd: tree, what: 'packing the initramfs' });
    const tmp = `${out}.${process.pid}`;
    fs.writeFileSync(tmp, cpio);
    fs.renameSync(tmp, out);
  } finally {
    fs.rmSync(tree, { recursive: true, force: true });
  }
  return out;
}

/**
 * The kernel and initramfs of the IPVS VM, built (and the kernel fetched)
 * the first time. `cache` defaults to ALIVED_VM_CACHE, else
 * /var/cache/alived-vm. Safe against a concurrent run: it takes a lock file.
 */
export function prepareVmImage(cache: string = process.env.ALIVED_VM_CACHE || DEFAULT_CACHE_DIR): VmImage {
  if (os.platform() !== 'linux') throw new VmSetupError('the IPVS VM runs on Linux only');
  if (/\s/.test(cache)) throw new VmSetupError(`the VM cache path must have no spaces: '${cache}'`);
  fs.mkdirSync(cache, { recursive: true });
  const lock = path.join(cache, '.lock');
  const deadline = Date.now() + 15 * 60_000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      // a lock whose owner is gone is taken over
      let owner = 0;
      let age = 0;
      try {
        owner = Number(fs.readFileSync(path.join(lock, 'pid'), 'utf8')) || 0;
        age = Date.now() - fs.statSync(lock).mtimeMs;
      } catch {
        // the owner is just writing its pid, or just left
      }
      if ((owner && !alive(owner)) || (!owner && age > 30_000)) fs.rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new VmSetupError(`the VM cache ${cache} stays locked by pid ${owner}`);
      else spawnSync('sleep', ['0.5']);
    }
  }
  fs.writeFileSync(path.join(lock, 'pid'), String(process.pid));
  try {
    const k = ensureKernel(cache);
    const initramfs = ensureInitramfs(cache, k.root, k.release);
    const vmlinux = path.join(k.root, 'vmlinux');
    return {
      release: k.release,
      kernel: fs.existsSync(vmlinux) ? vmlinux : path.join(k.root, 'boot', `vmlinuz-${k.release}`),
      initramfs,
      modulesDir: path.join(k.root, 'lib/modules'),
    };
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
