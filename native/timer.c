/*
 * alived's VRRP timer: one timerfd (CLOCK_MONOTONIC) polled on Node's event
 * loop. Node's own timers count whole milliseconds against a loop time that
 * is itself truncated to the millisecond, so a timer fires anywhere in the
 * millisecond after its deadline; and libuv sleeps in epoll_wait(), whose
 * timeout the kernel lets run late by 0.1 % of its length (0.5 % at a
 * positive nice). A timerfd expires on a high-resolution kernel timer with
 * no such slack, to the nanosecond asked, and wakes the loop through the
 * descriptor: the way keepalived's scheduler sleeps.
 *
 *   openTimer(onExpire) -> handle    timerfd_create(CLOCK_MONOTONIC), polled (uv_poll)
 *   armTimer(handle, ms[, awakeMs])  one shot, `ms` (fractional) from now; replaces any
 *                                    earlier arming; ms <= 0 fires at the next poll.
 *                                    With awakeMs, the timerfd expires that much
 *                                    earlier and the rest is waited out awake, here,
 *                                    on the clock, before onExpire() is called: a
 *                                    sleeping CPU wakes up late, and a wait in
 *                                    JavaScript would allocate a number per reading
 *                                    (a scavenge of 0.3 ms every few ms of waiting)
 *   waitFor(ms)                      returns after `ms` (at most a second), waited out awake
 *                                    on the clock here, allocating nothing
 *   disarmTimer(handle)              no onExpire() follows, even for an expiry that
 *                                    has happened and not yet been read
 *   closeTimer(handle)               idempotent, and safe from inside onExpire()
 *
 * onExpire() is called with no arguments, on the thread of the env's event
 * loop, in the timer's async context (a throw is an uncaught exception, as
 * with a Node timer). The handle keeps the event loop running while armed
 * and only then, as a Node timer does. Failing system calls throw an Error
 * with `code` (EINVAL, ...), `errno` (negated, as Node's) and `syscall`.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np */
#endif
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include "polled.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

/* a year: far beyond any VRRP timer, and well inside time_t */
#define MAX_MS (365.0 * 24 * 3600 * 1000)
#define ON_EXPIRE 0

typedef struct vtimer {
  polled p; /* first: a vtimer is its polled */
  bool armed;
  /* CLOCK_MONOTONIC ns before which onExpire() is not called (the armed deadline) */
  int64_t due_ns;
} vtimer;

static int64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* awake until CLOCK_MONOTONIC reaches due_ns: no sleep to wake up late from */
static void wait_until(int64_t due_ns) {
  while (monotonic_ns() < due_ns) {
  }
}

static const napi_type_tag TIMER_TAG = {0x616c697665645f74ULL, 0x696d657266647631ULL};

#define CHECK(env, call)                                                                           \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      polled_throw_pending_or(env, "ERR_ALIVED_TIMER_INTERNAL", "internal N-API failure in " #call); \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

/* "armTimer: timerfd_settime: Invalid argument (EINVAL)", with code, errno and syscall */
static napi_value throw_errno(napi_env env, const char *what, int err, const char *syscall) {
  char text[256], spare[16];
  const char *code = polled_errno_name(err, spare, sizeof spare);
  snprintf(text, sizeof text, "%s: %s: %s (%s)", what, syscall, strerror(err), code);
  napi_value msg, code_value, error, errno_value, syscall_value;
  if (napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg) != napi_ok ||
      napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value) != napi_ok ||
      napi_create_error(env, code_value, msg, &error) != napi_ok || napi_create_int32(env, -err, &errno_value) != napi_ok ||
      napi_set_named_property(env, error, "errno", errno_value) != napi_ok ||
      napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value) != napi_ok ||
      napi_set_named_property(env, error, "syscall", syscall_value) != napi_ok) {
    polled_throw_pending_or(env, "ERR_ALIVED_TIMER_INTERNAL", text);
    return NULL;
  }
  napi_throw(env, error);
  return NULL;
}

static void free_timer(polled *p) {
  free(p);
}

/* The loop waits for an armed timer only. */
static void set_armed(vtimer *t, bool armed) {
  t->armed = armed;
  if (!t->p.poll_started) return;
  if (armed) uv_ref((uv_handle_t *)&t->p.poll);
  else uv_unref((uv_handle_t *)&t->p.poll);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  (void)events;
  vtimer *t = handle->data;
  if (t->p.fd < 0) return;
  napi_env env = t->p.env;
  if (status < 0) {
    /* cannot happen for a timerfd short of a kernel bug: stop rather than spin */
    uv_poll_stop(&t->p.poll);
    set_armed(t, false);
    return;
  }
  uint64_t ticks = 0;
  ssize_t n;
  do {
    n = read(t->p.fd, &ticks, sizeof ticks);
  } while (n < 0 && errno == EINTR);
  /* EAGAIN: disarmed or re-armed after the expiry woke the poll; nothing is due */
  if (n != (ssize_t)sizeof ticks) return;
  set_armed(t, false);
  /* woken early on purpose (awakeMs): the rest awake, bounded by the deadline itself */
  wait_until(t->due_ns);

  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  polled_call(&t->p, ON_EXPIRE, 0, NULL);
  napi_close_handle_scope(env, scope);
  polled_after_callbacks(&t->p);
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !polled_is_type(env, argv[0], napi_function)) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "openTimer(onExpire): onExpire must be a function");
    return NULL;
  }
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return throw_errno(env, "openTimer", errno, "timerfd_create");
  vtimer *t = calloc(1, sizeof *t);
  if (t == NULL) {
    close(fd);
    return throw_errno(env, "openTimer", ENOMEM, "malloc");
  }
  t->p.fd = fd;
  t->p.free_owner = free_timer;
  napi_value handle;
  if (napi_create_object(env, &handle) != napi_ok) {
    close(fd);
    free(t);
    polled_throw_pending_or(env, "ERR_ALIVED_TIMER_INTERNAL", "cannot create the timer handle");
    return NULL;
  }
  int uverr = 0;
  const char *failed = polled_open(&t->p, env, handle, &TIMER_TAG, argv, 1, "alived:VrrpTimer", false, UV_READABLE, on_readable, &uverr);
  if (failed != NULL) {
    if (uverr != 0) return throw_errno(env, "openTimer", -uverr, "uv_poll_start");
    polled_throw_pending_or(env, "ERR_ALIVED_TIMER_INTERNAL", failed);
    return NULL;
  }
  set_armed(t, false);
  return handle;
}

/* the open timer in `value`, or NULL with a TypeError thrown */
static vtimer *get_timer(napi_env env, napi_value value, const char *what) {
  vtimer *t = (vtimer *)polled_unwrap(env, value, &TIMER_TAG);
  if (t == NULL) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s(handle): the argument must be a handle returned by openTimer()", what);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  }
  return t;
}

/* timerfd_settime: expiry at CLOCK_MONOTONIC `at_ns` (absolute), or disarmed when at_ns is 0 */
static napi_value settime(napi_env env, vtimer *t, int64_t at_ns, const char *what) {
  if (t->p.fd < 0) return throw_errno(env, what, EBADF, "timerfd_settime");
  struct itimerspec spec;
  memset(&spec, 0, sizeof spec);
  spec.it_value.tv_sec = (time_t)(at_ns / 1000000000);
  spec.it_value.tv_nsec = (long)(at_ns % 1000000000);
  if (timerfd_settime(t->p.fd, at_ns > 0 ? TFD_TIMER_ABSTIME : 0, &spec, NULL) < 0) return throw_errno(env, what, errno, "timerfd_settime");
  set_armed(t, at_ns > 0);
  return NULL;
}

/* argv[i] as milliseconds: a number, not NaN, at most a year; false with a TypeError / RangeError thrown */
static bool get_ms(napi_env env, napi_value value, const char *name, double *ms) {
  char msg[128];
  if (!polled_is_type(env, value, napi_number) || napi_get_value_double(env, value, ms) != napi_ok) {
    snprintf(msg, sizeof msg, "armTimer(handle, ms[, awakeMs]): %s must be a number", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return false;
  }
  if (isnan(*ms) || *ms > MAX_MS) {
    snprintf(msg, sizeof msg, "armTimer(handle, ms[, awakeMs]): %s must be a number of milliseconds up to a year", name);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  return true;
}

static napi_value js_arm(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "armTimer(handle, ms[, awakeMs]): two arguments are needed");
    return NULL;
  }
  vtimer *t = get_timer(env, argv[0], "armTimer");
  if (t == NULL) return NULL;
  double ms, awake_ms = 0;
  if (!get_ms(env, argv[1], "ms", &ms)) return NULL;
  if (argc > 2 && !polled_is_type(env, argv[2], napi_undefined) && !get_ms(env, argv[2], "awakeMs", &awake_ms)) return NULL;
  int64_t now = monotonic_ns();
  int64_t due = now + (ms > 0 ? (int64_t)llround(ms * 1e6) : 0);
  int64_t wake = due - (awake_ms > 0 ? (int64_t)llround(awake_ms * 1e6) : 0);
  /* a zero it_value would disarm: an expiry already due is set one nanosecond ahead */
  if (wake <= now) wake = now + 1;
  t->due_ns = due;
  return settime(env, t, wake, "armTimer");
}

/* the longest waitFor(): callers wait out a timer's early start, a few ms */
#define MAX_WAIT_MS 1000.0

static napi_value js_wait(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  double ms;
  if (argc < 1 || !polled_is_type(env, argv[0], napi_number) || napi_get_value_double(env, argv[0], &ms) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "waitFor(ms): ms must be a number");
    return NULL;
  }
  if (isnan(ms) || ms > MAX_WAIT_MS) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "waitFor(ms): ms must be a number of milliseconds up to 1000");
    return NULL;
  }
  if (ms <= 0) return NULL;
  wait_until(monotonic_ns() + (int64_t)llround(ms * 1e6));
  return NULL;
}

static napi_value js_disarm(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  vtimer *t = get_timer(env, argc > 0 ? argv[0] : NULL, "disarmTimer");
  if (t == NULL) return NULL;
  if (t->p.fd < 0) return NULL;
  /* settime resets the expiry count: a pending wake-up then reads EAGAIN */
  t->due_ns = 0;
  return settime(env, t, 0, "disarmTimer");
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  vtimer *t = get_timer(env, argc > 0 ? argv[0] : NULL, "closeTimer");
  if (t == NULL) return NULL;
  t->armed = false;
  polled_close(&t->p);
  return NULL;
}

napi_value alived_timer_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"openTimer", NULL, js_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"armTimer", NULL, js_arm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitFor", NULL, js_wait, NULL, NULL, NULL, napi_enumerable, NULL},
      {"disarmTimer", NULL, js_disarm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeTimer", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
