/**
 * Runs a command in the IPVS test VM from the command line:
 *   node dist/test/vm/run.js 'ipvsadm -Ln'
 * The exit status is the command's (125 when the VM gave none). Env:
 * ALIVED_VM_CACHE (kernel cache, default /var/cache/alived-vm),
 * ALIVED_VM_ACCEL=tcg|kvm, ALIVED_VM_TIMEOUT (seconds).
 */
import { runInVm } from './machine';

async function main(): Promise<number> {
  const command = process.argv.slice(2).join(' ');
  if (!command) {
    process.stderr.write("usage: node dist/test/vm/run.js 'COMMAND'\n");
    return 2;
  }
  const r = await runInVm({
    command,
    env: { ALIVED_REQUIRE_LAB: process.env.ALIVED_REQUIRE_LAB ?? '1', ...(process.env.CI ? { CI: process.env.CI } : {}) },
    timeoutMs: Number(process.env.ALIVED_VM_TIMEOUT ?? 1200) * 1000,
    onLine: (l) => process.stdout.write(`${l}\n`),
  });
  process.stderr.write(`vm: ${r.accel}, boot ${r.bootMs ?? '-'} ms, total ${r.totalMs} ms${r.timedOut ? ', timed out' : ''}\n`);
  return r.exitCode ?? 125;
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`vm: ${err.message}\n`);
    process.exit(125);
  },
);
