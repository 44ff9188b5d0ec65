/*
 * A descriptor polled on Node's event loop behind a JavaScript handle, with
 * up to three JavaScript callbacks: what the VRRP receivers (vrrp_recv.c), the
 * raw sockets (raw_socket.c) and the VRRP timer (timer.c) share.
 *
 * Lifecycle. polled_open() wraps the handle and starts polling; from then on
 * the handle's finalizer owns the memory. An open handle holds itself (a
 * strong reference), as any Node socket does, and an env cleanup hook closes
 * it when the env goes away. polled_close() stops polling, closes the
 * descriptor and drops the callbacks at once; the rest (the async context,
 * the self reference) waits until no callback is running, so closing from
 * inside a callback is safe. The memory is freed once both the poll handle
 * is closed and the JavaScript object is collected.
 *
 * Embed `polled` as the first member of the owner's struct: the owner's
 * pointer and the polled pointer are then the same, and `free_owner` gets it.
 */
#ifndef ALIVED_POLLED_H
#define ALIVED_POLLED_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <stdbool.h>

#define POLLED_MAX_CALLBACKS 3

typedef struct polled {
  napi_env env;
  int fd;            /* -1 once closed */
  uv_poll_t poll;
  bool poll_started; /* uv_poll_init done and uv_close not called */
  bool poll_closed;  /* the poll handle's memory is free to go: closed, or never initialised */
  bool finalized;    /* the JS object is gone */
  bool cleanup_hook; /* an env cleanup hook is registered */
  int in_callback;   /* depth of calls into JS */
  bool release_due;  /* closed inside a callback: released once it returns */
  napi_ref callbacks[POLLED_MAX_CALLBACKS];
  napi_ref self; /* strong while open */
  napi_async_context async;
  void (*free_owner)(struct polled *);
} polled;

/* "internal N-API failure in CALL" with `code`, unless an exception is already pending */
void polled_throw_pending_or(napi_env env, const char *code, const char *msg);

/* the errno's name (ENODEV), or "E<n>" written into `spare` */
const char *polled_errno_name(int err, char *spare, size_t size);

bool polled_is_type(napi_env env, napi_value v, napi_valuetype want);

/* a TypeError ERR_INVALID_ARG_TYPE / RangeError ERR_OUT_OF_RANGE with `msg`; NULL, to return */
napi_value polled_throw_type(napi_env env, const char *msg);
napi_value polled_throw_range(napi_env env, const char *msg);

/* obj[key] = value (a string); false when N-API failed */
bool polled_set_str(napi_env env, napi_value obj, const char *key, const char *value);

/*
 * An integer in [min, max] from a number argument into *out; false with an
 * exception thrown: `msg_type` when it is not a number, `msg_range` when out
 * of range or not whole, `internal_code` for an N-API failure.
 */
bool polled_get_int(napi_env env, napi_value v, int min, int max, const char *msg_type, const char *msg_range, const char *internal_code, int *out);

/*
 * Sets up `p` (allocated by the caller, zeroed, fd open) behind `handle`:
 * wrap, type tag, callback references, async context `name`, self
 * reference, env cleanup hook, uv_poll on the loop with `events` and `cb`
 * (`socket`: the fd is a socket). Returns NULL on success. On failure it
 * returns what failed, with the fd closed and, if the wrap itself failed,
 * `p` freed through free_owner (else the finalizer frees it later).
 * `uverr` gets a libuv error when that step failed, else 0.
 */
const char *polled_open(polled *p, napi_env env, napi_value handle, const napi_type_tag *tag, napi_value *callbacks, int ncallbacks,
                        const char *name, bool socket, int events, uv_poll_cb cb, int *uverr);

/* Stops polling, closes the fd, drops the callbacks; the rest once no callback runs. Idempotent. */
void polled_close(polled *p);

/* Calls callback `which` in the handle's async context; a throw becomes an uncaught exception. False: JS cannot run. */
bool polled_call(polled *p, int which, size_t argc, napi_value *argv);

/* At the end of a poll callback: the release a close inside it deferred. */
void polled_after_callbacks(polled *p);

/* The open handle in `value` (type-tagged `tag`), or NULL: the caller throws. */
polled *polled_unwrap(napi_env env, napi_value value, const napi_type_tag *tag);

#endif
