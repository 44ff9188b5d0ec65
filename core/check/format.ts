/**
 * How keepalived names services in its log (check_data.c format_vs(),
 * format_rs(); lib/utils.c inet_sockaddrtotrio_r()), so that alived's
 * lines read and grep the same: `[10.0.0.2]:tcp:80`, `FWM 5`,
 * `[group_name]:0`.
 */

export type ServiceProtocol = 'tcp' | 'udp' | 'sctp';

/** `[10.0.0.2]:tcp:80`; a fwmark service has no protocol: `[10.0.0.2]:none:80` */
export function formatService(address: string, port: number, protocol: ServiceProtocol | undefined): string {
  return `[${address}]:${protocol ?? 'none'}:${port}`;
}

export type VirtualServerName =
  | { readonly kind: 'address'; readonly address: string; readonly port: number; readonly protocol: ServiceProtocol | undefined }
  | { readonly kind: 'fwmark'; readonly fwmark: number }
  /** `seq`: the virtual server's number among those using the group, which keepalived shows as its port */
  | { readonly kind: 'group'; readonly group: string; readonly seq: number };

export function formatVirtualServer(k: VirtualServerName): string {
  switch (k.kind) {
    case 'address':
      return formatService(k.address, k.port, k.protocol);
    case 'fwmark':
      return `FWM ${k.fwmark}`;
    case 'group':
      return `[${k.group}]:${k.seq}`;
  }
}

/** `1.5 s`, `250 ms`: durations in messages */
export function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${+(ms / 1000).toFixed(3)} s` : `${+ms.toFixed(1)} ms`;
}
