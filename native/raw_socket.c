/*
 * alived's raw IP sockets: what VRRP sends on (IP protocol 112, and 51 for
 * keepalived's auth_type AH), with the IP header written by the caller
 * (IP_HDRINCL / IPV6_HDRINCL, set through setRawOption), and what the lab's
 * ICMP pinger sends and receives on.
 *
 *   openRaw(family, protocol, onError, onWritable[, onPacket]) -> handle
 *       socket(AF_INET (family 4) or AF_INET6 (6), SOCK_RAW, protocol),
 *       non-blocking, polled on Node's event loop (uv_poll) for what is
 *       asked of it: readable only when onPacket is given, writable only
 *       after waitWritable(). For each packet received:
 *         onPacket(packet: Buffer, src: string)
 *       (IPv4 raw sockets hand the whole packet, header included; IPv6 ones
 *       the payload); a failed recvfrom() or poll calls onError(err).
 *   setRawOption(handle, level, name, value)
 *       setsockopt(); value is a number (an int) or a Buffer (passed as it is).
 *   sendRaw(handle, packet, address) -> bytes
 *       sendto() of the packet as given, never blocking, to an IPv4 or IPv6
 *       address (an IPv6 one may carry its interface: fe80::1%eth0).
 *       A full socket buffer throws EAGAIN: waitWritable() then calls
 *       onWritable() once the socket takes packets again.
 *   waitWritable(handle)   polls for writability until onWritable() is called
 *   closeRaw(handle)       stops polling and closes the socket; idempotent, and
 *                          safe from inside a callback
 *
 * An open socket keeps itself from the garbage collector until closeRaw()
 * (or the end of its env); it holds the event loop open only while polled
 * (receiving, or waiting to write). Errors are Error objects with `code`
 * (EAGAIN, EPERM, ...), `errno` (negated, as Node's) and `syscall`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np */
#endif
#include "polled.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* a whole IPv4 packet, or an IPv6 payload (no jumbograms), is at most this long */
#define MAX_PACKET 65535
/* packets read per wakeup: a flood must not starve the loop's timers */
#define BURST 64
/* the longest address text: an IPv6 address and an interface name */
#define MAX_ADDRESS 128

/* the socket's callbacks, in the order openRaw() takes them */
#define ON_ERROR 0
#define ON_WRITABLE 1
#define ON_PACKET 2

typedef struct raw_socket {
  polled p; /* first: a raw socket is its polled */
  int family;
  bool reading;    /* onPacket was given */
  bool want_write; /* waitWritable() until the socket is writable */
  unsigned char *buf;
} raw_socket;

static const napi_type_tag RAW_TAG = {0x616c697665645f72ULL, 0x61775f736f636b74ULL};

static void throw_pending_or(napi_env env, const char *msg) {
  polled_throw_pending_or(env, "ERR_ALIVED_RAW_INTERNAL", msg);
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

/* "sendto: No buffer space available (ENOBUFS)", shaped as Node's system errors; NULL with an exception pending */
static napi_value make_error(napi_env env, int err, const char *syscall) {
  char text[256], spare[16];
  const char *code = polled_errno_name(err, spare, sizeof spare);
  snprintf(text, sizeof text, "%s: %s (%s)", syscall, strerror(err), code);
  napi_value msg, error, errno_value;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg) != napi_ok || napi_create_error(env, NULL, msg, &error) != napi_ok ||
      napi_create_int32(env, -err, &errno_value) != napi_ok || napi_set_named_property(env, error, "errno", errno_value) != napi_ok ||
      !set_str(env, error, "code", code) || !set_str(env, error, "syscall", syscall)) {
    return NULL;
  }
  return error;
}

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  napi_value error = make_error(env, err, syscall);
  if (error == NULL) {
    throw_pending_or(env, "cannot create the error of a raw socket");
    return NULL;
  }
  napi_throw(env, error);
  return NULL;
}

static void free_socket(polled *p) {
  raw_socket *r = (raw_socket *)p;
  free(r->buf);
  free(r);
}

static void on_event(uv_poll_t *handle, int status, int events);

/* polls for what is wanted now (reading, writing, both or nothing); a libuv error, or 0 */
static int update_poll(raw_socket *r) {
  if (!r->p.poll_started) return 0;
  int events = (r->reading ? UV_READABLE : 0) | (r->want_write ? UV_WRITABLE : 0);
  /* with no events uv_poll_start() stops the poll, and the handle no longer holds the loop open */
  return uv_poll_start(&r->p.poll, events, on_event);
}

static void report_error(raw_socket *r, int err, const char *syscall) {
  napi_value error = make_error(r->p.env, err, syscall);
  if (error == NULL) {
    napi_value exc;
    napi_get_and_clear_last_exception(r->p.env, &exc);
    return;
  }
  polled_call(&r->p, ON_ERROR, 1, &error);
}

/* One packet to onPacket. False: stop reading (JS cannot run). */
static bool deliver(raw_socket *r, size_t len, const struct sockaddr_storage *from, socklen_t fromlen) {
  napi_env env = r->p.env;
  char src[INET6_ADDRSTRLEN] = "";
  if (from->ss_family == AF_INET && fromlen >= sizeof(struct sockaddr_in)) {
    uv_ip4_name((const struct sockaddr_in *)from, src, sizeof src);
  } else if (from->ss_family == AF_INET6 && fromlen >= sizeof(struct sockaddr_in6)) {
    uv_ip6_name((const struct sockaddr_in6 *)from, src, sizeof src);
  }
  napi_value argv[2];
  void *copy;
  if (napi_create_buffer_copy(env, len, r->buf, &copy, &argv[0]) != napi_ok || napi_create_string_utf8(env, src, NAPI_AUTO_LENGTH, &argv[1]) != napi_ok) {
    napi_value exc;
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) napi_get_and_clear_last_exception(env, &exc);
    return false;
  }
  return polled_call(&r->p, ON_PACKET, 2, argv);
}

static void on_event(uv_poll_t *handle, int status, int events) {
  raw_socket *r = handle->data;
  if (r->p.fd < 0) return;
  napi_env env = r->p.env;
  napi_handle_scope outer;
  if (napi_open_handle_scope(env, &outer) != napi_ok) return;

  if (status < 0) {
    /* the poll itself failed: stop it rather than spin, and say so */
    r->reading = false;
    r->want_write = false;
    update_poll(r);
    report_error(r, -status, "uv_poll");
  } else {
    if ((events & UV_WRITABLE) && r->want_write) {
      r->want_write = false;
      update_poll(r);
      polled_call(&r->p, ON_WRITABLE, 0, NULL);
    }
    for (int i = 0; (events & UV_READABLE) && r->reading && i < BURST && r->p.fd >= 0; i++) {
      struct sockaddr_storage from;
      socklen_t fromlen = sizeof from;
      memset(&from, 0, sizeof from);
      ssize_t n = recvfrom(r->p.fd, r->buf, MAX_PACKET, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        report_error(r, errno, "recvfrom");
        break;
      }
      napi_handle_scope scope;
      if (napi_open_handle_scope(env, &scope) != napi_ok) break;
      bool go_on = deliver(r, (size_t)n, &from, fromlen);
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
#define get_int(env, v, min, max, msg_type, msg_range, out) polled_get_int(env, v, min, max, msg_type, msg_range, "ERR_ALIVED_RAW_INTERNAL", out)

/* the open socket in `value`, or NULL with an exception thrown (TypeError; EBADF once closed) */
static raw_socket *get_socket(napi_env env, napi_value value, const char *fn, const char *syscall) {
  raw_socket *r = (raw_socket *)polled_unwrap(env, value, &RAW_TAG);
  if (r == NULL) {
    char text[128];
    snprintf(text, sizeof text, "%s(handle, ...): the first argument must be a handle returned by openRaw()", fn);
    throw_type(env, text);
    return NULL;
  }
  if (syscall != NULL && r->p.fd < 0) {
    throw_errno(env, EBADF, syscall);
    return NULL;
  }
  return r;
}

/* --- the functions ----------------------------------------------------------------------------- */

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_type(env, "openRaw(family, protocol, onError, onWritable[, onPacket]): four arguments are needed");
  int v, protocol;
  if (!get_int(env, argv[0], 4, 6, "openRaw: family must be 4 or 6", "openRaw: family must be 4 or 6", &v)) return NULL;
  if (v != 4 && v != 6) return throw_range(env, "openRaw: family must be 4 or 6");
  if (!get_int(env, argv[1], 1, 255, "openRaw: protocol must be a number", "openRaw: protocol must be an integer from 1 to 255", &protocol)) return NULL;
  if (!is_type(env, argv[2], napi_function)) return throw_type(env, "openRaw: onError must be a function");
  if (!is_type(env, argv[3], napi_function)) return throw_type(env, "openRaw: onWritable must be a function");
  bool reading = argc >= 5 && !is_type(env, argv[4], napi_undefined) && !is_type(env, argv[4], napi_null);
  if (reading && !is_type(env, argv[4], napi_function)) return throw_type(env, "openRaw: onPacket must be a function, or left out");
  int family = v == 4 ? AF_INET : AF_INET6;

  int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) return throw_errno(env, errno, "socket");

  raw_socket *r = calloc(1, sizeof *r);
  unsigned char *buf = reading ? malloc(MAX_PACKET) : NULL;
  napi_value handle;
  if (r == NULL || (reading && buf == NULL) || napi_create_object(env, &handle) != napi_ok) {
    bool oom = r == NULL || (reading && buf == NULL);
    free(r);
    free(buf);
    close(fd);
    if (oom) return throw_errno(env, ENOMEM, "malloc");
    throw_pending_or(env, "cannot create the raw socket handle");
    return NULL;
  }
  r->p.fd = fd;
  r->p.free_owner = free_socket;
  r->family = family;
  r->reading = reading;
  r->buf = buf;
  int uverr = 0;
  const char *failed = polled_open(&r->p, env, handle, &RAW_TAG, &argv[2], reading ? 3 : 2, "alived:RawSocket", true, reading ? UV_READABLE : 0,
                                   on_event, &uverr);
  if (failed != NULL) {
    if (uverr != 0) return throw_errno(env, -uverr, "uv_poll_start");
    throw_pending_or(env, failed);
    return NULL;
  }
  return handle;
}

static napi_value js_set_option(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_type(env, "setRawOption(handle, level, name, value): four arguments are needed");
  raw_socket *r = get_socket(env, argv[0], "setRawOption", "setsockopt");
  if (r == NULL) return NULL;
  int level, name;
  if (!get_int(env, argv[1], 0, INT_MAX, "setRawOption: level must be a number", "setRawOption: level must be an integer from 0", &level)) return NULL;
  if (!get_int(env, argv[2], 0, INT_MAX, "setRawOption: name must be a number", "setRawOption: name must be an integer from 0", &name)) return NULL;
  int rc;
  bool is_buffer = false;
  CHECK(env, napi_is_buffer(env, argv[3], &is_buffer));
  if (is_buffer) {
    void *data;
    size_t length;
    CHECK(env, napi_get_buffer_info(env, argv[3], &data, &length));
    if (length > 65536) return throw_range(env, "setRawOption: a Buffer value is at most 65536 bytes");
    rc = setsockopt(r->p.fd, level, name, data, (socklen_t)length);
  } else {
    int value;
    if (!get_int(env, argv[3], INT_MIN, INT_MAX, "setRawOption: value must be a number or a Buffer", "setRawOption: value must be a 32-bit integer", &value)) {
      return NULL;
    }
    rc = setsockopt(r->p.fd, level, name, &value, sizeof value);
  }
  if (rc < 0) return throw_errno(env, errno, "setsockopt");
  return NULL;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "sendRaw(handle, packet, address): three arguments are needed");
  raw_socket *r = get_socket(env, argv[0], "sendRaw", "sendto");
  if (r == NULL) return NULL;

  bool is_typed = false;
  CHECK(env, napi_is_typedarray(env, argv[1], &is_typed));
  if (!is_typed) return throw_type(env, "sendRaw: packet must be a Buffer or Uint8Array");
  napi_typedarray_type ta_type;
  size_t length;
  void *data;
  CHECK(env, napi_get_typedarray_info(env, argv[1], &ta_type, &length, &data, NULL, NULL));
  if (ta_type != napi_uint8_array) return throw_type(env, "sendRaw: packet must be a Buffer or Uint8Array");
  if (length > MAX_PACKET) return throw_range(env, "sendRaw: a packet is at most 65535 bytes");

  char address[MAX_ADDRESS];
  size_t alen = 0;
  if (!is_type(env, argv[2], napi_string)) return throw_type(env, "sendRaw: address must be a string");
  CHECK(env, napi_get_value_string_utf8(env, argv[2], address, sizeof address, &alen));
  struct sockaddr_storage to;
  socklen_t tolen;
  memset(&to, 0, sizeof to);
  /* the port is 0: a raw socket's port field would name a protocol */
  if (r->family == AF_INET) {
    if (alen >= sizeof address - 1 || uv_ip4_addr(address, 0, (struct sockaddr_in *)&to) != 0) return throw_range(env, "sendRaw: address is not an IPv4 address");
    tolen = sizeof(struct sockaddr_in);
  } else {
    /* uv_ip6_addr() takes "fe80::1%eth0" and sets the scope to the interface's index */
    if (alen >= sizeof address - 1 || uv_ip6_addr(address, 0, (struct sockaddr_in6 *)&to) != 0) return throw_range(env, "sendRaw: address is not an IPv6 address");
    tolen = sizeof(struct sockaddr_in6);
  }

  ssize_t sent;
  do {
    sent = sendto(r->p.fd, data, length, MSG_DONTWAIT, (struct sockaddr *)&to, tolen);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return throw_errno(env, errno, "sendto");
  napi_value result;
  CHECK(env, napi_create_int64(env, (int64_t)sent, &result));
  return result;
}

static napi_value js_wait_writable(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "waitWritable(handle): the handle is missing");
  raw_socket *r = get_socket(env, argv[0], "waitWritable", "uv_poll_start");
  if (r == NULL) return NULL;
  if (r->want_write) return NULL;
  r->want_write = true;
  int err = update_poll(r);
  if (err != 0) {
    r->want_write = false;
    return throw_errno(env, -err, "uv_poll_start");
  }
  return NULL;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "closeRaw(handle): the handle is missing");
  raw_socket *r = get_socket(env, argv[0], "closeRaw", NULL);
  if (r == NULL) return NULL;
  r->reading = false;
  r->want_write = false;
  polled_close(&r->p);
  return NULL;
}

napi_value alived_raw_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"openRaw", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"setRawOption", NULL, js_set_option, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sendRaw", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitWritable", NULL, js_wait_writable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeRaw", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
