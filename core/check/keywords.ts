import { value, word } from '../config/schema';
import { duration, ifname, int, ip, optBool, uint } from '../config/values';

/**
 * The keywords every checker block shares, as keepalived's
 * install_checker_common_keywords() declares them (check_api.c). A checker
 * plugin spreads these into its schema:
 * `block({ ...checkerConnectionFields, ...checkerCommonFields, my_keyword: ... })`.
 * MISC_CHECK takes only the common ones; BFD_CHECK and FILE_CHECK neither.
 *
 * None has a default here: an unset value is inherited from the real_server,
 * then the virtual_server, then the checker's own default.
 */
export const checkerConnectionFields = {
  connect_ip: word(ip()).doc("address to connect to; default the real server's"),
  connect_port: word(int({ min: 1, max: 65535 })).doc("port to connect to; default the real server's"),
  bindto: word(ip()).doc('source address of the check'),
  bind_port: word(int({ min: 1, max: 65535 })).doc('source port of the check'),
  bind_if: word(ifname).doc('interface of an IPv6 link-local bindto or connect_ip'),
  connect_timeout: word(duration({ min: 0.000001, max: 4294.967295 })).doc('seconds before a connection attempt fails; default 5'),
  fwmark: word(uint()).doc('firewall mark set on the check traffic'),
};

export const checkerCommonFields = {
  retry: word(uint()).doc('retries before the real server is down; default 1 (MISC_CHECK 0, DNS_CHECK 3)'),
  delay_before_retry: word(duration()).doc('seconds between retries; default 1 (HTTP_GET/SSL_GET 3, DNS_CHECK delay_loop)'),
  warmup: word(duration()).doc('first check within a random delay up to this many seconds; default delay_loop, 0 disables'),
  delay_loop: word(duration({ min: 0.000001 })).doc("seconds between checks; default the virtual server's delay_loop (60)"),
  alpha: value(optBool).doc('start the real server down until its first successful check'),
  log_all_failures: value(optBool).doc('log every failed check, not only state changes'),
};
