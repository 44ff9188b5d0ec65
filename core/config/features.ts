/**
 * The parts of alived that act on keywords. A keyword names the feature that
 * acts on it; while that feature has not landed, `alived -t` says so in a
 * warning that lists every such keyword the config uses. Nothing is
 * silently ignored. A feature lands by adding its name to IMPLEMENTED.
 */
export const FEATURES: Record<string, string> = {
  vrrp: 'the VRRP engine',
  'vrrp-more': 'VRRP options beyond the engine (VRF, virtual_rules, garp_group, buffer tuning, linkbeat polling, track_src_ip)',
  'vrrp-strict': 'VRRP strict mode (vrrp_strict, strict_mode)',
  'vrrp-firewall':
    "no_accept mode's firewall in nftables (accept, no_accept, nftables, nftables_priority, nftables_counters, nftables_ifindex; vrrp_iptables and vrrp_ipsets mapped to nftables)",
  'vrrp-track': 'VRRP tracking (track_interface, track_script, track_file, weights)',
  'vrrp-sync': 'VRRP sync groups',
  'notify-script': 'notify scripts and FIFOs',
  'notify-mail': 'email notifications',
  notify: 'notifiers from plugins',
  reload: 'live reload',
  checker: 'health checks',
  ipvs: 'IPVS programming',
  'process-track': 'process tracking',
  'static-net': 'static addresses, routes and rules',
  'lvs-sync': 'the LVS sync daemon',
  vmac: 'VMAC interfaces (use_vmac)',
  'vmac-addr': 'VMACs for addresses on other interfaces (use_vmac_addr, the use_vmac address option)',
  ipvlan: 'ipvlan interfaces (use_ipvlan)',
  snmp: 'SNMP',
  dbus: 'D-Bus',
  bfd: 'BFD',
  'ipvs-nftables': 'nftables for IPVS virtual server groups (nftables_ipvs, nftables_ipvs_priority, nftables_ipvs_start_fwmark)',
  namespace: 'network namespaces and instance names',
  process: 'process names, CPU affinity, real-time CPU limits (*_rlimit_rttime), BFD process settings and child_wait_time',
  'process-tuning': 'the umask, memory locking (vrrp_no_swap, checker_no_swap) and automatic real-time priority (max_auto_priority)',
  global: 'global settings',
  api: "alived's HTTP API (alived_api)",
};

/** Features that have landed: their keywords are acted on and draw no warning. */
export const IMPLEMENTED: ReadonlySet<string> = new Set<string>([
  'vrrp',
  'api',
  'checker',
  'ipvs',
  'vrrp-track',
  'vrrp-sync',
  'notify-script',
  'notify-mail',
  'notify',
  'process-track',
  'static-net',
  'process-tuning',
  'lvs-sync',
  'vmac',
  'vrrp-strict',
  'vrrp-firewall',
]);
