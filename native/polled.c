/* A descriptor polled on Node's event loop behind a JavaScript handle: see polled.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np */
#endif
#include "polled.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void polled_throw_pending_or(napi_env env, const char *code, const char *msg) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  napi_throw_error(env, code, msg);
}

const char *polled_errno_name(int err, char *spare, size_t size) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *name = strerrorname_np(err);
  if (name != NULL) return name;
#endif
  snprintf(spare, size, "E%d", err);
  return spare;
}

bool polled_is_type(napi_env env, napi_value v, napi_valuetype want) {
  napi_valuetype t;
  return v != NULL && napi_typeof(env, v, &t) == napi_ok && t == want;
}

napi_value polled_throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

napi_value polled_throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return NULL;
}

bool polled_set_str(napi_env env, napi_value obj, const char *key, const char *value) {
  napi_value v;
  return napi_create_string_utf8(env, value, NAPI_AUTO_LENGTH, &v) == napi_ok && napi_set_named_property(env, obj, key, v) == napi_ok;
}

bool polled_get_int(napi_env env, napi_value v, int min, int max, const char *msg_type, const char *msg_range, const char *internal_code, int *out) {
  double d;
  if (!polled_is_type(env, v, napi_number)) {
    polled_throw_type(env, msg_type);
    return false;
  }
  if (napi_get_value_double(env, v, &d) != napi_ok) {
    polled_throw_pending_or(env, internal_code, msg_type);
    return false;
  }
  if (!(d >= min && d <= max) || d != (double)(int)d) {
    polled_throw_range(env, msg_range);
    return false;
  }
  *out = (int)d;
  return true;
}

static void maybe_free(polled *p) {
  if (p->poll_closed && p->finalized) p->free_owner(p);
}

static void on_poll_closed(uv_handle_t *handle) {
  polled *p = handle->data;
  p->poll_closed = true;
  maybe_free(p);
}

static void on_env_cleanup(void *arg);

/* Stops polling and closes the descriptor; drops the callbacks. No JS runs. Idempotent. */
static void shut(polled *p) {
  if (p->poll_started) {
    p->poll_started = false;
    uv_poll_stop(&p->poll);
    /* uv_close() forgets the descriptor at once; only the memory waits for on_poll_closed */
    uv_close((uv_handle_t *)&p->poll, on_poll_closed);
  }
  if (p->fd >= 0) {
    /* released whatever close() says; retrying could close another's descriptor */
    close(p->fd);
    p->fd = -1;
  }
  for (int i = 0; i < POLLED_MAX_CALLBACKS; i++) {
    if (p->callbacks[i] != NULL) {
      napi_delete_reference(p->env, p->callbacks[i]);
      p->callbacks[i] = NULL;
    }
  }
}

/* After shut(): ends the async context and lets the JS object be collected. Not while a callback runs. */
static void release(polled *p, bool from_cleanup_hook) {
  p->release_due = false;
  if (p->cleanup_hook && !from_cleanup_hook) napi_remove_env_cleanup_hook(p->env, on_env_cleanup, p);
  p->cleanup_hook = false;
  if (p->async != NULL) {
    napi_async_destroy(p->env, p->async);
    p->async = NULL;
  }
  if (p->self != NULL) {
    napi_delete_reference(p->env, p->self);
    p->self = NULL;
  }
}

void polled_close(polled *p) {
  shut(p);
  if (p->in_callback > 0) p->release_due = true;
  else release(p, false);
}

/* the env goes away (process exit, worker end): close, so the loop can close without our handle */
static void on_env_cleanup(void *arg) {
  polled *p = arg;
  shut(p);
  release(p, true);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  polled *p = data;
  /* only a closed handle loses its last reference, but an env being torn down finalizes everything */
  shut(p);
  p->self = NULL; /* the reference goes with the env */
  p->finalized = true;
  maybe_free(p);
}

const char *polled_open(polled *p, napi_env env, napi_value handle, const napi_type_tag *tag, napi_value *callbacks, int ncallbacks,
                        const char *name, bool socket, int events, uv_poll_cb cb, int *uverr) {
  *uverr = 0;
  p->env = env;
  p->poll_closed = true; /* until uv_poll_init */
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    close(p->fd);
    p->free_owner(p);
    return "cannot reach the event loop";
  }
  if (napi_wrap(env, handle, p, finalize, NULL, NULL) != napi_ok) {
    close(p->fd);
    p->free_owner(p);
    return "cannot create the handle";
  }
  /* from here the finalizer owns p; a failure below shuts it and lets it go */
  napi_value name_value;
  bool ok = napi_type_tag_object(env, handle, tag) == napi_ok;
  for (int i = 0; ok && i < ncallbacks && i < POLLED_MAX_CALLBACKS; i++) ok = napi_create_reference(env, callbacks[i], 1, &p->callbacks[i]) == napi_ok;
  ok = ok && napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &name_value) == napi_ok && napi_async_init(env, handle, name_value, &p->async) == napi_ok &&
       napi_create_reference(env, handle, 1, &p->self) == napi_ok;
  if (!ok) {
    polled_close(p);
    return "cannot set up the handle";
  }
  if (napi_add_env_cleanup_hook(env, on_env_cleanup, p) != napi_ok) {
    polled_close(p);
    return "cannot register the handle's cleanup";
  }
  p->cleanup_hook = true;
  int err = socket ? uv_poll_init_socket(loop, &p->poll, p->fd) : uv_poll_init(loop, &p->poll, p->fd);
  if (err == 0) {
    p->poll.data = p;
    p->poll_closed = false;
    p->poll_started = true;
    err = uv_poll_start(&p->poll, events, cb);
  }
  if (err != 0) {
    polled_close(p);
    *uverr = err;
    return "polling";
  }
  return NULL;
}

bool polled_call(polled *p, int which, size_t argc, napi_value *argv) {
  napi_env env = p->env;
  napi_value fn, recv;
  napi_ref fn_ref = which >= 0 && which < POLLED_MAX_CALLBACKS ? p->callbacks[which] : NULL;
  if (fn_ref == NULL || napi_get_reference_value(env, fn_ref, &fn) != napi_ok || fn == NULL) return true;
  if (p->self == NULL || napi_get_reference_value(env, p->self, &recv) != napi_ok || recv == NULL) {
    if (napi_get_undefined(env, &recv) != napi_ok) return false;
  }
  p->in_callback++;
  napi_status status = napi_make_callback(env, p->async, recv, fn, argc, argv, NULL);
  p->in_callback--;
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
    napi_value exc;
    /* as Node does for its own callbacks: 'uncaughtException', or the process ends */
    if (napi_get_and_clear_last_exception(env, &exc) == napi_ok) napi_fatal_exception(env, exc);
    return true;
  }
  return status == napi_ok;
}

void polled_after_callbacks(polled *p) {
  if (p->release_due && p->in_callback == 0) release(p, false);
}

polled *polled_unwrap(napi_env env, napi_value value, const napi_type_tag *tag) {
  bool tagged = false;
  void *data = NULL;
  if (!polled_is_type(env, value, napi_object) || napi_check_object_type_tag(env, value, tag, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, value, &data) != napi_ok || data == NULL) {
    return NULL;
  }
  return data;
}
