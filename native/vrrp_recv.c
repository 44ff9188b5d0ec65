/*
 * alived's VRRP receivers, what raw-socket's recvfrom() cannot tell:
 *   - for both families, when the kernel received each packet
 *     (SO_TIMESTAMPNS), so that a backup's down timer counts from the
 *     advert's arrival, not from when its process got round to reading it;
 *   - for IPv6, the hop limit and the destination address, read from
 *     ancillary data (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO) as keepalived
 *     does (an IPv4 raw socket hands the whole IP header instead).
 *
 *   openRecv6(ifname, ifindex, groups, rcvBuf, onPacket, onError) -> handle
 *       socket(AF_INET6, SOCK_RAW, 112), non-blocking, SO_BINDTODEVICE ifname,
 *       SO_RCVBUFFORCE rcvBuf (0: the kernel's default), SO_TIMESTAMPNS,
 *       IPV6_RECVHOPLIMIT and IPV6_RECVPKTINFO on, IPV6_ADD_MEMBERSHIP of
 *       every group on ifindex; then polled on Node's event loop (uv_poll).
 *       For each packet:
 *         onPacket(payload: Buffer, src: string, dst: string, hopLimit: number | undefined, ifindex: number, ageMs: number | undefined)
 *       (dst is '' and hopLimit undefined if the kernel sent no such data);
 *       a failed recvmsg() or poll calls onError(err) instead.
 *   openRecv4(ifname, ifindex, groups, rcvBuf, onPacket, onError[, protocol]) -> handle
 *       the same for IPv4: socket(AF_INET, SOCK_RAW, protocol), IP_ADD_MEMBERSHIP
 *       of every group (224.0.0.18, ...) on ifindex; onPacket's first
 *       argument is the whole IP packet, header included, dst '' and
 *       hopLimit undefined (both are in the header). protocol is 112 (VRRP,
 *       the default) or 51 (IPsec AH: keepalived's auth_type AH sends VRRPv2
 *       inside an AH header).
 *   recvProtocols4        [112, 51]: the protocols openRecv4 takes (an addon
 *                         built before auth_type AH lacks it)
 *   ageMs: how long ago the kernel received the packet, in milliseconds,
 *       measured just before the call (undefined without a stamp).
 *   closeRecv(handle)     stops polling and closes the socket; idempotent, and
 *                         safe from inside onPacket (no packet follows)
 *   dropAllFilter()       -> Buffer: a struct sock_fprog for SO_ATTACH_FILTER
 *                         whose one instruction (ret 0) drops every packet:
 *                         for raw sockets that only send (raw-socket's setOption)
 *
 * An open receiver keeps itself alive (and the event loop running), as any
 * Node socket does, until closeRecv(); the garbage collector then frees it.
 * Errors are Error objects with `code` (ENODEV, ...), `errno` (negated, as
 * Node's), `syscall`, `ifname`, `step` and a message naming the interface and
 * the step. Everything here runs on the thread of the env's event loop.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* struct in6_pktinfo, strerrorname_np */
#endif
#include "polled.h"

#include <arpa/inet.h>
#include <errno.h>
#include <time.h>
#include <limits.h>
#include <linux/filter.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define VRRP_PROTO 112
#define AH_PROTO 51
/* an IPv6 payload (no jumbograms), or a whole IPv4 packet, is at most this long */
#define MAX_PAYLOAD 65535
/* packets read per wakeup: a flood must not starve the loop's timers (the adverts we send) */
#define BURST 64
#define MAX_GROUPS 64

typedef struct recv6 {
  polled p;   /* first: a receiver is its polled */
  int family; /* AF_INET or AF_INET6 */
  int ifindex;
  char ifname[IFNAMSIZ];
  unsigned char *buf;
} recv6;

/* the receiver's two callbacks */
#define ON_PACKET 0
#define ON_ERROR 1

static const napi_type_tag RECV6_TAG = {0x616c697665645f72ULL, 0x6563763676727270ULL};

/* ret 0: accept no byte of any packet */
static struct sock_filter drop_all_insns[] = {BPF_STMT(BPF_RET | BPF_K, 0)};

static void throw_pending_or(napi_env env, const char *msg) {
  polled_throw_pending_or(env, "ERR_ALIVED_RECV6_INTERNAL", msg);
}

#define CHECK(env, call)                                         \
  do {                                                           \
    if ((call) != napi_ok) {                                     \
      throw_pending_or(env, "internal N-API failure in " #call); \
      return NULL;                                               \
    }                                                            \
  } while (0)

#define throw_type polled_throw_type
#define throw_range polled_throw_range
#define set_str polled_set_str

/*
 * An Error for errno `err` from `syscall` during `step` on `ifname`:
 * "IPv6 VRRP receiver on eth0: joining ff02::12 (setsockopt IPV6_ADD_MEMBERSHIP): No such device (ENODEV)".
 * NULL if even that could not be made (an exception is then pending).
 */
static napi_value make_error(napi_env env, int family, const char *ifname, int err, const char *step, const char *syscall) {
  char text[512], spare[16];
  const char *code = polled_errno_name(err, spare, sizeof spare);
  snprintf(text, sizeof text, "IPv%d VRRP receiver on %s: %s (%s): %s (%s)", family == AF_INET ? 4 : 6, ifname, step, syscall, strerror(err), code);
  napi_value msg, error, errno_value;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg) != napi_ok || napi_create_error(env, NULL, msg, &error) != napi_ok ||
      napi_create_int32(env, -err, &errno_value) != napi_ok || napi_set_named_property(env, error, "errno", errno_value) != napi_ok ||
      !set_str(env, error, "code", code) || !set_str(env, error, "syscall", syscall) || !set_str(env, error, "ifname", ifname) ||
      !set_str(env, error, "step", step)) {
    return NULL;
  }
  return error;
}

static napi_value throw_errno(napi_env env, int family, const char *ifname, int err, const char *step, const char *syscall) {
  napi_value error = make_error(env, family, ifname, err, step, syscall);
  if (error == NULL) {
    throw_pending_or(env, "cannot create the error of the VRRP receiver");
    return NULL;
  }
  napi_throw(env, error);
  return NULL;
}

static void free_receiver(polled *p) {
  recv6 *r = (recv6 *)p;
  free(r->buf);
  free(r);
}

static void report_error(recv6 *r, int err, const char *step, const char *syscall) {
  napi_value error = make_error(r->p.env, r->family, r->ifname, err, step, syscall);
  if (error == NULL) {
    napi_value exc;
    napi_get_and_clear_last_exception(r->p.env, &exc);
    return;
  }
  polled_call(&r->p, ON_ERROR, 1, &error);
}

/* milliseconds from the kernel's receive stamp (CLOCK_REALTIME) to now; negative without a stamp */
static double age_ms(const struct timespec *stamp) {
  if (stamp == NULL) return -1;
  struct timespec now;
  if (clock_gettime(CLOCK_REALTIME, &now) != 0) return -1;
  return (double)(now.tv_sec - stamp->tv_sec) * 1e3 + (double)(now.tv_nsec - stamp->tv_nsec) / 1e6;
}

/* One packet to onPacket. False: stop reading (JS cannot run). */
static bool deliver(recv6 *r, size_t len, const struct sockaddr_storage *from, const struct in6_pktinfo *info, int hop_limit,
                    const struct timespec *stamp) {
  napi_env env = r->p.env;
  char src[INET6_ADDRSTRLEN] = "", dst[INET6_ADDRSTRLEN] = "";
  napi_value argv[6];
  void *copy;
  if (from != NULL && from->ss_family == AF_INET6) inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)from)->sin6_addr, src, sizeof src);
  if (from != NULL && from->ss_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)from)->sin_addr, src, sizeof src);
  if (info != NULL) inet_ntop(AF_INET6, &info->ipi6_addr, dst, sizeof dst);
  /* a wall-clock step between the stamp and now would make it meaningless: no age then */
  double age = age_ms(stamp);
  if (napi_create_buffer_copy(env, len, r->buf, &copy, &argv[0]) != napi_ok ||
      napi_create_string_utf8(env, src, NAPI_AUTO_LENGTH, &argv[1]) != napi_ok ||
      napi_create_string_utf8(env, dst, NAPI_AUTO_LENGTH, &argv[2]) != napi_ok ||
      (hop_limit >= 0 ? napi_create_int32(env, hop_limit, &argv[3]) : napi_get_undefined(env, &argv[3])) != napi_ok ||
      napi_create_int32(env, info != NULL ? (int)info->ipi6_ifindex : r->ifindex, &argv[4]) != napi_ok ||
      (age >= 0 && age < 60000 ? napi_create_double(env, age, &argv[5]) : napi_get_undefined(env, &argv[5])) != napi_ok) {
    napi_value exc;
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &exc);
    return false;
  }
  return polled_call(&r->p, ON_PACKET, 6, argv);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  recv6 *r = handle->data;
  if (r->p.fd < 0) return;
  napi_env env = r->p.env;
  napi_handle_scope outer;
  if (napi_open_handle_scope(env, &outer) != napi_ok) return;

  if (status < 0) {
    /* the poll itself failed: stop it rather than spin, and say so */
    uv_poll_stop(&r->p.poll);
    report_error(r, -status, "polling the socket", "uv_poll");
  } else {
    for (int i = 0; i < BURST && r->p.fd >= 0; i++) {
      struct sockaddr_storage from;
      struct iovec iov = {.iov_base = r->buf, .iov_len = MAX_PAYLOAD};
      union {
        struct cmsghdr align;
        char space[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct timespec)) + 64];
      } control;
      struct msghdr msg;
      memset(&msg, 0, sizeof msg);
      memset(&from, 0, sizeof from);
      msg.msg_name = &from;
      msg.msg_namelen = sizeof from;
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = control.space;
      msg.msg_controllen = sizeof control.space;

      ssize_t n = recvmsg(r->p.fd, &msg, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        report_error(r, errno, "receiving a packet", "recvmsg");
        break;
      }
      struct in6_pktinfo info;
      bool have_info = false, have_stamp = false;
      int hop_limit = -1;
      struct timespec stamp;
      for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof stamp)) {
          memcpy(&stamp, CMSG_DATA(c), sizeof stamp);
          have_stamp = true;
          continue;
        }
        if (c->cmsg_level != IPPROTO_IPV6) continue;
        if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
          int v;
          memcpy(&v, CMSG_DATA(c), sizeof v);
          if (v >= 0 && v <= 255) hop_limit = v;
        } else if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof info)) {
          memcpy(&info, CMSG_DATA(c), sizeof info);
          have_info = true;
        }
      }
      napi_handle_scope scope;
      if (napi_open_handle_scope(env, &scope) != napi_ok) break;
      size_t want = r->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
      bool go_on = deliver(r, (size_t)n, msg.msg_namelen >= want ? &from : NULL, have_info ? &info : NULL, hop_limit, have_stamp ? &stamp : NULL);
      napi_close_handle_scope(env, scope);
      if (!go_on) break;
    }
  }

  napi_close_handle_scope(env, outer);
  polled_after_callbacks(&r->p);
}

/* --- arguments --------------------------------------------------------------------------------- */

#define is_type polled_is_type

/* an integer in [min, max] from a number argument; false with an exception thrown */
#define get_int(env, v, min, max, msg_type, msg_range, out) polled_get_int(env, v, min, max, msg_type, msg_range, "ERR_ALIVED_RECV6_INTERNAL", out)

/* "openRecv6: msg" or "openRecv4: msg" */
static napi_value throw_type_f(napi_env env, int family, const char *msg) {
  char text[256];
  snprintf(text, sizeof text, "openRecv%d: %s", family == AF_INET ? 4 : 6, msg);
  return throw_type(env, text);
}

static napi_value throw_range_f(napi_env env, int family, const char *msg) {
  char text[256];
  snprintf(text, sizeof text, "openRecv%d: %s", family == AF_INET ? 4 : 6, msg);
  return throw_range(env, text);
}

static napi_value open_receiver(napi_env env, napi_callback_info info, int family) {
  size_t argc = 7;
  napi_value argv[7];
  const int v = family == AF_INET ? 4 : 6;
  char what[96];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 6) return throw_type_f(env, family, "(ifname, ifindex, groups, rcvBuf, onPacket, onError): six arguments are needed");

  /* ifname: 1 to IFNAMSIZ-1 bytes, no NUL, no '/' (the kernel's dev_valid_name) */
  char ifname[IFNAMSIZ];
  size_t len = 0;
  if (!is_type(env, argv[0], napi_string)) return throw_type_f(env, family, "ifname must be a string");
  CHECK(env, napi_get_value_string_utf8(env, argv[0], NULL, 0, &len));
  if (len == 0 || len >= IFNAMSIZ) return throw_range_f(env, family, "ifname must be 1 to 15 bytes long");
  CHECK(env, napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &len));
  if (strlen(ifname) != len || strchr(ifname, '/') != NULL || strcmp(ifname, ".") == 0 || strcmp(ifname, "..") == 0) {
    return throw_range_f(env, family, "ifname is not a valid interface name");
  }

  int ifindex, rcvbuf;
  snprintf(what, sizeof what, "openRecv%d: ifindex must be a number", v);
  char range[96];
  snprintf(range, sizeof range, "openRecv%d: ifindex must be an integer from 1 to 2147483647", v);
  if (!get_int(env, argv[1], 1, INT_MAX, what, range, &ifindex)) return NULL;

  const char *groups_type = family == AF_INET ? "groups must be an array of IPv4 multicast addresses" : "groups must be an array of IPv6 multicast addresses";
  bool is_array = false;
  uint32_t ngroups = 0;
  CHECK(env, napi_is_array(env, argv[2], &is_array));
  if (!is_array) return throw_type_f(env, family, groups_type);
  CHECK(env, napi_get_array_length(env, argv[2], &ngroups));
  if (ngroups > MAX_GROUPS) return throw_range_f(env, family, "at most 64 groups");
  struct ipv6_mreq mreq6[MAX_GROUPS];
  struct ip_mreqn mreq4[MAX_GROUPS];
  char group_text[MAX_GROUPS][64];
  for (uint32_t i = 0; i < ngroups; i++) {
    napi_value g;
    size_t glen = 0;
    CHECK(env, napi_get_element(env, argv[2], i, &g));
    if (!is_type(env, g, napi_string)) return throw_type_f(env, family, groups_type);
    CHECK(env, napi_get_value_string_utf8(env, g, group_text[i], sizeof group_text[i], &glen));
    memset(&mreq6[i], 0, sizeof mreq6[i]);
    memset(&mreq4[i], 0, sizeof mreq4[i]);
    void *addr = family == AF_INET ? (void *)&mreq4[i].imr_multiaddr : (void *)&mreq6[i].ipv6mr_multiaddr;
    if (glen >= sizeof group_text[i] - 1 || strlen(group_text[i]) != glen || inet_pton(family, group_text[i], addr) != 1) {
      return throw_range_f(env, family, family == AF_INET ? "a group is not an IPv4 address" : "a group is not an IPv6 address");
    }
    if (family == AF_INET) {
      if (!IN_MULTICAST(ntohl(mreq4[i].imr_multiaddr.s_addr))) return throw_range_f(env, family, "a group is not an IPv4 multicast address (224.0.0.0/4)");
      mreq4[i].imr_ifindex = ifindex;
    } else {
      if (!IN6_IS_ADDR_MULTICAST(&mreq6[i].ipv6mr_multiaddr)) return throw_range_f(env, family, "a group is not an IPv6 multicast address (ff00::/8)");
      mreq6[i].ipv6mr_interface = (unsigned)ifindex;
    }
  }

  snprintf(what, sizeof what, "openRecv%d: rcvBuf must be a number", v);
  snprintf(range, sizeof range, "openRecv%d: rcvBuf must be an integer from 0 to 2147483647", v);
  if (!get_int(env, argv[3], 0, INT_MAX, what, range, &rcvbuf)) return NULL;
  if (!is_type(env, argv[4], napi_function)) return throw_type_f(env, family, "onPacket must be a function");
  if (!is_type(env, argv[5], napi_function)) return throw_type_f(env, family, "onError must be a function");
  int protocol = VRRP_PROTO;
  if (argc >= 7 && !is_type(env, argv[6], napi_undefined)) {
    snprintf(what, sizeof what, "openRecv%d: protocol must be a number", v);
    snprintf(range, sizeof range, "openRecv%d: protocol must be 112 (VRRP)%s", v, family == AF_INET ? " or 51 (IPsec AH)" : "");
    if (!get_int(env, argv[6], AH_PROTO, VRRP_PROTO, what, range, &protocol)) return NULL;
    if (protocol != VRRP_PROTO && (family != AF_INET || protocol != AH_PROTO)) return throw_range(env, range);
  }

  /* --- the socket ---------------------------------------------------------------------------- */
  int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) {
    char open_step[64];
    snprintf(open_step, sizeof open_step, "opening a raw IPv%d socket for protocol %d", v, protocol);
    return throw_errno(env, family, ifname, errno, open_step, "socket");
  }
  const int on = 1;
  const char *step = NULL, *call = "setsockopt";
  char join_step[64 + 32];
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname) + 1) < 0) step = "binding to the interface (SO_BINDTODEVICE)";
  else if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) step = "setting the receive buffer (SO_RCVBUFFORCE)";
  else if (setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) < 0) step = "asking for receive stamps (SO_TIMESTAMPNS)";
  else if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0) step = "asking for the hop limit (IPV6_RECVHOPLIMIT)";
  else if (family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) < 0) step = "asking for the destination (IPV6_RECVPKTINFO)";
  else {
    for (uint32_t i = 0; i < ngroups; i++) {
      int rc = family == AF_INET ? setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq4[i], sizeof mreq4[i])
                                 : setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mreq6[i], sizeof mreq6[i]);
      if (rc < 0) {
        snprintf(join_step, sizeof join_step, "joining %s (%s)", group_text[i], family == AF_INET ? "IP_ADD_MEMBERSHIP" : "IPV6_ADD_MEMBERSHIP");
        step = join_step;
        break;
      }
    }
  }
  if (step != NULL) {
    int err = errno;
    close(fd);
    return throw_errno(env, family, ifname, err, step, call);
  }

  recv6 *r = calloc(1, sizeof *r);
  unsigned char *buf = malloc(MAX_PAYLOAD);
  napi_value handle;
  if (r == NULL || buf == NULL || napi_create_object(env, &handle) != napi_ok) {
    bool oom = r == NULL || buf == NULL;
    free(r);
    free(buf);
    close(fd);
    if (oom) return throw_errno(env, family, ifname, ENOMEM, "allocating the receiver", "malloc");
    throw_pending_or(env, "cannot create the VRRP receiver handle");
    return NULL;
  }
  r->p.fd = fd;
  r->p.free_owner = free_receiver;
  r->family = family;
  r->ifindex = ifindex;
  memcpy(r->ifname, ifname, sizeof r->ifname);
  r->buf = buf;
  int uverr = 0;
  const char *failed = polled_open(&r->p, env, handle, &RECV6_TAG, &argv[4], 2, family == AF_INET ? "alived:Vrrp4Receiver" : "alived:Vrrp6Receiver", true,
                                   UV_READABLE, on_readable, &uverr);
  if (failed != NULL) {
    if (uverr != 0) return throw_errno(env, family, ifname, -uverr, "polling the socket", "uv_poll_start");
    throw_pending_or(env, failed);
    return NULL;
  }
  return handle;
}

static napi_value js_open6(napi_env env, napi_callback_info info) {
  return open_receiver(env, info, AF_INET6);
}

static napi_value js_open4(napi_env env, napi_callback_info info) {
  return open_receiver(env, info, AF_INET);
}

/* the receiver in argument `value`, or NULL with a TypeError thrown */
static recv6 *get_receiver(napi_env env, napi_value value) {
  recv6 *r = (recv6 *)polled_unwrap(env, value, &RECV6_TAG);
  if (r == NULL) throw_type(env, "closeRecv(handle): the argument must be a handle returned by openRecv4() or openRecv6()");
  return r;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "closeRecv(handle): the handle is missing");
  recv6 *r = get_receiver(env, argv[0]);
  if (r == NULL) return NULL;
  polled_close(&r->p);
  return NULL;
}

static napi_value js_drop_all_filter(napi_env env, napi_callback_info info) {
  (void)info;
  /* the kernel copies the program during setsockopt(); the instruction is static anyway */
  struct sock_fprog prog;
  memset(&prog, 0, sizeof prog);
  prog.len = sizeof drop_all_insns / sizeof drop_all_insns[0];
  prog.filter = drop_all_insns;
  napi_value result;
  void *copy;
  CHECK(env, napi_create_buffer_copy(env, sizeof prog, &prog, &copy, &result));
  return result;
}

napi_value alived_recv_init(napi_env env, napi_value exports) {
  napi_value protocols, n;
  if (napi_create_array_with_length(env, 2, &protocols) != napi_ok) return NULL;
  if (napi_create_int32(env, VRRP_PROTO, &n) != napi_ok || napi_set_element(env, protocols, 0, n) != napi_ok) return NULL;
  if (napi_create_int32(env, AH_PROTO, &n) != napi_ok || napi_set_element(env, protocols, 1, n) != napi_ok) return NULL;
  napi_property_descriptor props[] = {
      {"recvProtocols4", NULL, NULL, NULL, NULL, protocols, napi_enumerable, NULL},
      {"openRecv4", NULL, js_open4, NULL, NULL, NULL, napi_enumerable, NULL},
      {"openRecv6", NULL, js_open6, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeRecv", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"dropAllFilter", NULL, js_drop_all_filter, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
