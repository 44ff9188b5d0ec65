/*
 * systemd's notify protocol (sd_notify(3)): one datagram of NEWLINE-separated
 * KEY=VALUE lines to the unix socket named by $NOTIFY_SOCKET. Node's net and
 * dgram modules have no unix datagram sockets, so the send is here.
 *
 *   notifySocketSend(address, message)   sends one datagram. `address` is a path,
 *                                        or an abstract name written with a
 *                                        leading '@' (as systemd writes it). The
 *                                        send never blocks (MSG_DONTWAIT): a full
 *                                        queue is EAGAIN, the caller's to report.
 *                                        The kernel attaches the sender's
 *                                        credentials for a receiver that sets
 *                                        SO_PASSCRED, as systemd's socket does:
 *                                        that is how it tells the main process.
 *   monotonicMicros()                    CLOCK_MONOTONIC in microseconds: the
 *                                        clock of RELOADING=1's MONOTONIC_USEC
 *
 * A failing call throws an Error with `errno` (negated, as Node's) and `syscall`.
 */
#define NAPI_VERSION 8
#include <node_api.h>

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, int err, const char *syscall) {
  char text[160];
  napi_value msg, error, errno_value, syscall_value;
  snprintf(text, sizeof text, "%s: %s", syscall, strerror(err));
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg) != napi_ok || napi_create_error(env, NULL, msg, &error) != napi_ok ||
      napi_create_int32(env, -err, &errno_value) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) != napi_ok ||
      napi_set_named_property(env, error, "errno", errno_value) != napi_ok ||
      napi_set_named_property(env, error, "syscall", syscall_value) != napi_ok) {
    napi_throw_error(env, NULL, text);
    return NULL;
  }
  napi_throw(env, error);
  return NULL;
}

/* a string argument, malloc'd (the caller frees it), or NULL with a TypeError thrown */
static char *string_arg(napi_env env, napi_value v, size_t *len, const char *usage) {
  napi_valuetype t = napi_undefined;
  size_t n = 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string || napi_get_value_string_utf8(env, v, NULL, 0, &n) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  char *s = malloc(n + 1);
  if (s == NULL) {
    napi_throw_error(env, "ENOMEM", "out of memory");
    return NULL;
  }
  if (napi_get_value_string_utf8(env, v, s, n + 1, &n) != napi_ok) {
    free(s);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  *len = n;
  return s;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  static const char usage[] = "notifySocketSend(address, message): two strings, a socket path or @abstract name and the message";
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", usage);
    return NULL;
  }
  size_t alen = 0, mlen = 0;
  char *address = string_arg(env, argv[0], &alen, usage);
  if (address == NULL) return NULL;
  char *message = string_arg(env, argv[1], &mlen, usage);
  if (message == NULL) {
    free(address);
    return NULL;
  }
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  socklen_t salen;
  napi_value result = NULL;
  /* a path needs room for its NUL; an abstract name is its bytes after the leading NUL */
  if (alen < 2 || (address[0] != '/' && address[0] != '@') || alen >= sizeof sa.sun_path) {
    throw_errno(env, EINVAL, "notify socket address");
    goto out;
  }
  memcpy(sa.sun_path, address, alen);
  if (address[0] == '@') {
    sa.sun_path[0] = '\0';
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + alen);
  } else {
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + alen + 1);
  }
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, errno, "socket");
    goto out;
  }
  ssize_t sent = sendto(fd, message, mlen, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa, salen);
  int err = errno;
  close(fd);
  if (sent < 0) {
    throw_errno(env, err, "sendto");
    goto out;
  }
  napi_get_undefined(env, &result);
out:
  free(address);
  free(message);
  return result;
}

static napi_value js_monotonic(napi_env env, napi_callback_info info) {
  (void)info;
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return throw_errno(env, errno, "clock_gettime");
  napi_value out;
  /* microseconds since boot stay far below 2^53: exact as a double */
  if (napi_create_double(env, (double)ts.tv_sec * 1e6 + (double)(ts.tv_nsec / 1000), &out) != napi_ok) return NULL;
  return out;
}

napi_value alived_notify_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"notifySocketSend", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"monotonicMicros", NULL, js_monotonic, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
