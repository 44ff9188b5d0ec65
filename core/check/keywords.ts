import { value, word } from '../config/schema';
import { duration, ifname, int, ip, optBool, port, uint } from '../config/values';

/**
 * The keywords every checker block shares, as keepalived's
 * install_checker_common_keywords() declares them. A checker plugin spreads
 * these into its schema: `block({ ...checkerConnectionFields, ...checkerCommonFields, my_keyword: ... })`.
 */
export const checkerConnectionFields = {
  connect_ip: word(ip()).doc('address to connect to instead of the real server'),
  connect_port: word(port).doc('port to connect to instead of the real server'),
  bindto: word(ip()).doc('source address of the check'),
  bind_port: word(int({ min: 1, max: 65535 })).doc('source port of the check'),
  bind_if: word(ifname).doc('interface of an IPv6 link-local bindto'),
  connect_timeout: word(duration({ min: 0.000001 })).doc('seconds before a connection attempt fails; default 5'),
  fwmark: word(uint()).doc('firewall mark set on the check traffic'),
};

export const checkerCommonFields = {
  retry: word(uint()).doc('failed attempts before the real server is down (default 1; HTTP_GET 3)'),
  delay_before_retry: word(duration()).doc('seconds between retries (default 1)'),
  warmup: word(duration()).doc('first check within a random delay up to this many seconds'),
  delay_loop: word(duration({ min: 0.000001 })).doc("seconds between checks; default the virtual server's delay_loop"),
  alpha: value(optBool).doc('start the real server down until its first successful check'),
  log_all_failures: value(optBool).doc('log every failed check, not only state changes'),
};
