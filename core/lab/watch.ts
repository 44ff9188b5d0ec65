/**
 * Watches addresses and neighbour entries in the network namespace it runs
 * in and prints one JSON line per change, stamped with the monotonic clock
 * (process.hrtime, the same clock in every namespace of the machine):
 *
 *   {"t":123456789012,"kind":"addr","op":"new","address":"10.99.0.99","ifindex":2}
 *   {"t":123456789013,"kind":"neigh","op":"new","address":"10.99.0.99","mac":"02:00:00:99:01:0b","state":2}
 *
 * The lab runs one per host to time takeovers from the kernel's own events,
 * not from polling. Prints {"kind":"ready"} once subscribed.
 */
import { createNetlink, rt } from 'netlink';
import { bytesToIp } from '../net/address';

const AF_INET = 2;
const AF_INET6 = 10;

function addrText(family: number | undefined, b: Buffer | undefined): string | undefined {
  if (!b) return undefined;
  if ((family === AF_INET && b.length === 4) || (family === AF_INET6 && b.length === 16)) return bytesToIp(b);
  return undefined;
}

// the raw socket keeps the message type (new / del), which the rtnetlink wrapper drops
const NETLINK_ROUTE = 0;
const RTM_NEWADDR = 20;
const RTM_DELADDR = 21;
const RTM_NEWNEIGH = 28;
const RTM_DELNEIGH = 29;
const GROUPS = [3 /* NEIGH */, 5 /* IPV4_IFADDR */, 9 /* IPV6_IFADDR */];

const sock = createNetlink(NETLINK_ROUTE);
sock.ref();
for (const g of GROUPS) sock.addMembership(g);
sock.on('message', (msgs) => {
  const t = process.hrtime.bigint().toString();
  for (const m of msgs) {
    if (m.type === RTM_NEWADDR || m.type === RTM_DELADDR) {
      const a = rt.parseAddressMessage(m.data);
      const address = addrText(a.data.family, a.attrs.local ?? a.attrs.address);
      const op = m.type === RTM_NEWADDR ? 'new' : 'del';
      process.stdout.write(`{"t":${t},"kind":"addr","op":"${op}","address":"${address}","ifindex":${a.data.index}}\n`);
    } else if (m.type === RTM_NEWNEIGH || m.type === RTM_DELNEIGH) {
      const n = rt.parseNeighborMessage(m.data);
      const address = addrText(n.data.family, n.attrs.dst);
      const mac = n.attrs.lladdr ? [...n.attrs.lladdr].map((x) => x.toString(16).padStart(2, '0')).join(':') : '';
      const op = m.type === RTM_NEWNEIGH ? 'new' : 'del';
      process.stdout.write(`{"t":${t},"kind":"neigh","op":"${op}","address":"${address}","mac":"${mac}"}\n`);
    }
  }
});
process.stdout.write('{"kind":"ready"}\n');
process.on('SIGTERM', () => process.exit(0));
