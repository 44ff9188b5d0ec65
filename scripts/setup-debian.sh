#!/usr/bin/env bash
# System packages alived and its tests need on Debian 12, as root.
# Starts no service (there may be no systemd; a policy-rc.d keeps packages quiet).
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
  echo "setup-debian.sh: run as root (apt-get, and the tests use namespaces and raw sockets)" >&2
  exit 1
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup-debian.sh: alived needs Node.js >= 20 (found: $(node --version 2>/dev/null || echo none))." >&2
  echo "Debian 12's own nodejs is 18; install Node 20 (e.g. the nodejs 20 package your mirror provides) first." >&2
  exit 1
fi

# keep maintainer scripts from starting daemons
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
fi

packages=(
  build-essential python3   # node-gyp builds raw-socket's native addon
  iproute2                  # ip netns / link / addr for the namespace lab tests
  bsdutils                  # logger(1): alived's syslog output
  procps                    # ps, pkill for test clean-up
  redis-server              # a real server for the custom-check example (examples/redis-check)
  keepalived                # the real VRRP peer of the interop tests and benchmarks
  iputils-ping              # the lab client reaches the VIP
  tcpdump                   # captures in the lab (what crossed the wire)
  openssl                   # certificates for the SSL_GET tests
  qemu-system-x86           # the IPVS tests boot Debian's kernel in a VM (test/vm): this kernel has no IPVS
  busybox-static            # the VM's initramfs
  kmod                      # depmod for the VM's kernel modules, modprobe inside the VM
  xz-utils                  # unpacks the VM's kernel image
  ipvsadm                   # the IPVS tests' independent view of the kernel's table
  nginx                     # service probes: NGINX_CHECK, nginx HA failover tests
  haproxy                   # service probes: HAPROXY_CHECK (stats socket), haproxy HA failover tests
  tomcat10                  # service probes: TOMCAT_CHECK (java running Catalina), tomcat hot standby tests
  default-jre-headless      # java for tomcat10
  mariadb-server            # MYSQL_CHECK against a real primary and replica (mariadbd, mariadb-install-db)
  mariadb-client            # the tests set up accounts and replication with mariadb -e
  python3                   # process tracking tests: processes that fork and rename themselves
  nftables                  # fault tests and bench/faults: partitions and advert loss inside the lab
  prometheus                # the /metrics tests: a real Prometheus scrapes alived and answers PromQL; promtool checks the page
  groff-base man-db         # the man pages (npm run man) are rendered by groff and man in the tests
  bash-completion           # the generated bash completion is run by the tests
  dpkg-dev                  # npm run deb: dpkg-shlibdeps for the native code's library dependencies
  lintian                   # the Debian package is checked by lintian
  mmdebstrap                # the Debian package is installed in a clean Debian 12 root it builds (test/package/deb)
  dpkg-repack               # ... with this host's nodesource nodejs (Node 20) made into a .deb first
  systemd                   # systemd-analyze verify checks packaging/systemd/alived.service (no systemd is started)
)
need=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
# the VM tests fetch linux-image-amd64 with apt-get download on their first run
# (into ${ALIVED_VM_CACHE:-/var/cache/alived-vm}): apt must know the package
if [ ! -f "${ALIVED_VM_CACHE:-/var/cache/alived-vm}/kernel/.done" ] && [ ${#need[@]} -eq 0 ]; then
  apt-get update -qq
fi
echo "setup-debian.sh: system packages ready"
