#!/usr/bin/env node
'use strict';
// alived's lab demo, for what alived does today: it checks every example
// config the way `alived -t` does, then runs the daemon in the foreground on
// one of them through its life: start, a reload with a broken config (the
// running config goes on), a good reload, and a clean stop.
// It sends no VRRP or other traffic: the VRRP engine has not landed yet.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const bin = path.join(root, 'dist', 'core', 'cli', 'main.js');
if (!fs.existsSync(bin)) {
  console.error('lab: build first (npm install, or npm run build)');
  process.exit(1);
}

const examples = [];
(function walk(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    // conf.d/ holds fragments, checked through the config that includes them
    if (e.isDirectory()) {
      if (e.name !== 'conf.d') walk(p);
    } else if (e.name.endsWith('.conf')) examples.push(p);
  }
})(path.join(root, 'examples'));

console.log(`== alived -t on ${examples.length} example configs`);
let bad = 0;
for (const file of examples) {
  const idMatch = /^! alived -i (\S+)/m.exec(fs.readFileSync(file, 'utf8'));
  const args = ['-t', '-f', file, ...(idMatch ? ['-i', idMatch[1]] : [])];
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  const summary = r.stderr.trim().split('\n').pop();
  if (r.status !== 0) bad++;
  console.log(`${r.status === 0 ? 'ok  ' : 'FAIL'} ${path.relative(root, file)}: ${summary.replace(/^alived: /, '').replace(/: \/.*?: /, ': ')}`);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alived-lab-'));
const conf = path.join(dir, 'keepalived.conf');
const good = fs.readFileSync(path.join(root, 'examples', 'master-backup', 'node1.conf'), 'utf8');
fs.writeFileSync(conf, good);
console.log(`\n== the daemon in the foreground: alived -n -l -G -f ${conf}`);
const d = spawn(process.execPath, [bin, '-n', '-l', '-G', '-f', conf, '-p', path.join(dir, 'alived.pid')], { stdio: ['ignore', 'inherit', 'inherit'] });
const step = (ms, what, fn) => new Promise((r) => setTimeout(() => { console.log(`\n-- ${what}`); fn(); r(); }, ms));
(async () => {
  await step(1500, 'SIGHUP with a broken config (priority 300): the reload is refused, the running config goes on', () => {
    fs.writeFileSync(conf, good.replace(/priority \d+/, 'priority 300'));
    d.kill('SIGHUP');
  });
  await step(1500, 'SIGHUP with the config fixed: the reload is applied', () => {
    fs.writeFileSync(conf, good);
    d.kill('SIGHUP');
  });
  await step(1500, 'SIGTERM: shutdown', () => d.kill('SIGTERM'));
})();
const guard = setTimeout(() => d.kill('SIGKILL'), 15000);
d.on('exit', (code) => {
  clearTimeout(guard);
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`\n== daemon exited with ${code}; ${examples.length - bad}/${examples.length} examples valid`);
  process.exit(code === 0 && bad === 0 ? 0 : 1);
});
