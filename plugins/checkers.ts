import type { AlivedPlugin } from '../core/sdk';
import checkBfd from './check-bfd';
import checkDns from './check-dns';
import checkFile from './check-file';
import checkHttp from './check-http';
import checkMisc from './check-misc';
import checkMysql from './check-mysql';
import checkPresets from './check-presets';
import checkPing from './check-ping';
import checkSmtp from './check-smtp';
import checkTcp from './check-tcp';
import checkUdp from './check-udp';

/**
 * Built-in checker plugins: keepalived's TCP_CHECK, HTTP_GET, SSL_GET (and
 * the top-level SSL block), MISC_CHECK, SMTP_CHECK, DNS_CHECK, PING_CHECK,
 * UDP_CHECK, FILE_CHECK and BFD_CHECK; alived's MYSQL_CHECK and the presets NGINX_CHECK, HAPROXY_CHECK, TOMCAT_CHECK.
 */
export const CHECKER_PLUGINS: readonly AlivedPlugin<any>[] = [
  checkTcp,
  checkHttp,
  checkMisc,
  checkSmtp,
  checkDns,
  checkPing,
  checkUdp,
  checkFile,
  checkBfd,
  checkMysql,
  checkPresets,
];
