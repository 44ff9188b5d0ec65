/*
 * alived's packet socket: what Node and raw IP sockets cannot do, send a
 * whole link-layer frame (gratuitous ARP, unsolicited neighbour advert) out of
 * one interface through an AF_PACKET socket.
 *
 *   open(ifindex)        -> handle   socket(AF_PACKET, SOCK_RAW) bound to the interface
 *   send(handle, frame)  -> bytes    sendto() of the frame as given, never blocking
 *   close(handle)                    idempotent; the garbage collector closes a lost handle
 *
 * The socket is bound with protocol 0, so the kernel delivers it no frames:
 * it only sends. A failing system call throws an Error whose `errno` is the
 * negated errno (as Node's own errors carry it) and whose `syscall` names the
 * call; the JavaScript wrapper turns that into a message naming the interface.
 *
 * The same addon holds the VRRP receivers (vrrp_recv.c: openRecv4,
 * openRecv6, closeRecv, dropAllFilter), which read each advert's kernel
 * receive stamp and, for IPv6, its hop limit and destination from ancillary
 * data, the raw IP sockets VRRP sends on (raw_socket.c: openRaw,
 * setRawOption, sendRaw, waitWritable, closeRaw), and the VRRP clock's timer (timer.c:
 * openTimer, armTimer, disarmTimer, closeTimer), a timerfd on the loop.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* an ethernet header is the least a frame can be; 64 KiB the most any link takes */
#define MIN_FRAME ETH_HLEN
#define MAX_FRAME 65535

typedef struct {
  int fd;
  int ifindex;
} packet_socket;

/* marks the objects this addon made, so a foreign wrapped object is never taken for a handle */
static const napi_type_tag HANDLE_TAG = {0x616c697665645f70ULL, 0x61636b65745f736bULL};

#define CHECK(env, call)                                                \
  do {                                                                  \
    if ((call) != napi_ok) {                                            \
      throw_pending_or(env, "internal N-API failure in " #call);        \
      return NULL;                                                      \
    }                                                                   \
  } while (0)

static void throw_pending_or(napi_env env, const char *msg) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  napi_throw_error(env, "ERR_ALIVED_PACKET_INTERNAL", msg);
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* throws an Error for errno `err` from `syscall`, shaped as Node's system errors */
static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  char text[160];
  napi_value msg, error, errno_value, syscall_value;
  snprintf(text, sizeof text, "%s: %s", syscall, strerror(err));
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_error(env, NULL, msg, &error) != napi_ok ||
      napi_create_int32(env, -err, &errno_value) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) != napi_ok ||
      napi_set_named_property(env, error, "errno", errno_value) != napi_ok ||
      napi_set_named_property(env, error, "syscall", syscall_value) != napi_ok) {
    throw_pending_or(env, text);
    return NULL;
  }
  napi_throw(env, error);
  return NULL;
}

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  packet_socket *ps = data;
  if (ps->fd >= 0) close(ps->fd);
  free(ps);
}

/* the handle in argument `value`, or NULL with a TypeError thrown */
static packet_socket *get_handle(napi_env env, napi_value value) {
  napi_valuetype type;
  bool tagged = false;
  void *data = NULL;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_object ||
      napi_check_object_type_tag(env, value, &HANDLE_TAG, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, value, &data) != napi_ok || data == NULL) {
    throw_type(env, "the first argument must be a handle returned by open()");
    return NULL;
  }
  return data;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_valuetype type;
  double number;
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_typeof(env, argv[0], &type) != napi_ok || type != napi_number) {
    return throw_type(env, "open(ifindex): ifindex must be a number");
  }
  CHECK(env, napi_get_value_double(env, argv[0], &number));
  if (!(number >= 1 && number <= INT_MAX) || number != (double)(int)number) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "open(ifindex): ifindex must be an integer from 1 to 2147483647");
    return NULL;
  }
  int ifindex = (int)number;

  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");

  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = 0; /* receive nothing */
  sll.sll_ifindex = ifindex;
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, err, "bind");
  }

  packet_socket *ps = malloc(sizeof *ps);
  if (ps == NULL) {
    close(fd);
    return throw_errno(env, ENOMEM, "malloc");
  }
  ps->fd = fd;
  ps->ifindex = ifindex;

  napi_value handle;
  if (napi_create_object(env, &handle) != napi_ok ||
      napi_wrap(env, handle, ps, finalize_handle, NULL, NULL) != napi_ok) {
    close(fd);
    free(ps);
    throw_pending_or(env, "cannot create the packet socket handle");
    return NULL;
  }
  /* from here the finalizer owns ps and its fd */
  CHECK(env, napi_type_tag_object(env, handle, &HANDLE_TAG));
  return handle;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "send(handle, frame): two arguments are needed");
  packet_socket *ps = get_handle(env, argv[0]);
  if (ps == NULL) return NULL;
  if (ps->fd < 0) return throw_errno(env, EBADF, "sendto");

  bool is_typed = false;
  CHECK(env, napi_is_typedarray(env, argv[1], &is_typed));
  if (!is_typed) return throw_type(env, "send(handle, frame): frame must be a Buffer or Uint8Array");
  napi_typedarray_type ta_type;
  size_t length;
  void *data;
  CHECK(env, napi_get_typedarray_info(env, argv[1], &ta_type, &length, &data, NULL, NULL));
  if (ta_type != napi_uint8_array) return throw_type(env, "send(handle, frame): frame must be a Buffer or Uint8Array");
  if (length < MIN_FRAME || length > MAX_FRAME) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "send(handle, frame): a frame is 14 to 65535 bytes");
    return NULL;
  }

  /* the protocol the kernel files the frame under is the frame's own ethertype */
  const unsigned char *frame = data;
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = ps->ifindex;
  memcpy(&sll.sll_protocol, frame + 12, 2);
  sll.sll_halen = ETH_ALEN;
  memcpy(sll.sll_addr, frame, ETH_ALEN);

  ssize_t sent;
  do {
    sent = sendto(ps->fd, frame, length, MSG_DONTWAIT, (struct sockaddr *)&sll, sizeof sll);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return throw_errno(env, errno, "sendto");

  napi_value result;
  CHECK(env, napi_create_int64(env, (int64_t)sent, &result));
  return result;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "close(handle): the handle is missing");
  packet_socket *ps = get_handle(env, argv[0]);
  if (ps == NULL) return NULL;
  if (ps->fd >= 0) {
    /* the descriptor is released whatever close() says; retrying could close another's */
    close(ps->fd);
    ps->fd = -1;
  }
  return NULL;
}

/* vrrp_recv.c, raw_socket.c, timer.c, process.c, signal.c, notify.c */
napi_value alived_recv_init(napi_env env, napi_value exports);
napi_value alived_raw_init(napi_env env, napi_value exports);
napi_value alived_signal_init(napi_env env, napi_value exports);
napi_value alived_timer_init(napi_env env, napi_value exports);
napi_value alived_process_init(napi_env env, napi_value exports);
napi_value alived_notify_init(napi_env env, napi_value exports);

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"open", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  if (alived_recv_init(env, exports) == NULL) return NULL;
  if (alived_raw_init(env, exports) == NULL) return NULL;
  if (alived_process_init(env, exports) == NULL) return NULL;
  if (alived_signal_init(env, exports) == NULL) return NULL;
  if (alived_notify_init(env, exports) == NULL) return NULL;
  return alived_timer_init(env, exports);
}
