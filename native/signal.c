/*
 * Signals Node cannot listen for. process.on() takes only the named signals
 * of os.constants.signals, so keepalived's real-time ones (SIGRTMIN+2 asks
 * for the JSON dump, SIGRTMAX-1 to clear the counters) would kill the
 * daemon with their default action. libuv's signal watcher takes any
 * number: it installs a process-wide handler (sigaction) that writes to a
 * pipe and runs the callback on the loop, in whichever thread the kernel
 * delivered the signal to, exactly as it does for Node's own signals.
 *
 *   realtimeSignals() -> { min, max }   SIGRTMIN and SIGRTMAX as this libc
 *                                       sets them (glibc keeps two for itself)
 *   watchSignal(signum, onSignal)       starts catching `signum`; returns a handle.
 *                                       onSignal(signum) runs on the event loop.
 *                                       The watcher does not keep the loop
 *                                       running, as Node's signal listeners do not.
 *   closeSignal(handle)                 the signal's action goes back to its
 *                                       default; idempotent, safe inside onSignal
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <uv.h>

#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct watcher {
  napi_env env;
  uv_signal_t sig;
  bool started;       /* uv_signal_init done and uv_close not called */
  bool uv_closed;     /* the uv handle's memory is free to go: closed, or never initialised */
  bool finalized;     /* the JS object is gone */
  bool cleanup_hook;  /* an env cleanup hook is registered */
  int in_callback;    /* depth of calls into JS */
  bool release_due;   /* closed inside the callback: released once it returns */
  napi_ref callback;
  napi_ref self; /* strong while open: the handle lives until closeSignal() */
  napi_async_context async;
} watcher;

static const napi_type_tag SIGNAL_TAG = {0x616c697665645f73ULL, 0x69676e616c763031ULL};

static void maybe_free(watcher *w) {
  if (w->uv_closed && w->finalized) free(w);
}

static void on_uv_closed(uv_handle_t *handle) {
  watcher *w = handle->data;
  w->uv_closed = true;
  maybe_free(w);
}

static void on_env_cleanup(void *arg);

/* stops the watcher (libuv restores the default action) and drops the callback; no JS runs. Idempotent. */
static void shut(watcher *w) {
  if (w->started) {
    w->started = false;
    uv_signal_stop(&w->sig);
    uv_close((uv_handle_t *)&w->sig, on_uv_closed);
  }
  if (w->callback != NULL) {
    napi_delete_reference(w->env, w->callback);
    w->callback = NULL;
  }
}

static void release(watcher *w, bool from_cleanup_hook) {
  w->release_due = false;
  if (w->cleanup_hook && !from_cleanup_hook) napi_remove_env_cleanup_hook(w->env, on_env_cleanup, w);
  w->cleanup_hook = false;
  if (w->async != NULL) {
    napi_async_destroy(w->env, w->async);
    w->async = NULL;
  }
  if (w->self != NULL) {
    napi_delete_reference(w->env, w->self);
    w->self = NULL;
  }
}

static void close_watcher(watcher *w) {
  shut(w);
  if (w->in_callback > 0) w->release_due = true;
  else release(w, false);
}

static void on_env_cleanup(void *arg) {
  watcher *w = arg;
  shut(w);
  release(w, true);
}

static void finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  watcher *w = data;
  /* only a closed handle loses its last reference, but an env being torn down finalizes everything */
  shut(w);
  w->self = NULL; /* the reference goes with the env */
  w->finalized = true;
  maybe_free(w);
}

static void on_signal(uv_signal_t *handle, int signum) {
  watcher *w = handle->data;
  napi_env env = w->env;
  if (w->callback == NULL) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, arg;
  /* the receiver is the handle: Node's MakeCallback needs an object */
  if (napi_get_reference_value(env, w->callback, &fn) == napi_ok && fn != NULL && w->self != NULL &&
      napi_get_reference_value(env, w->self, &recv) == napi_ok && recv != NULL && napi_create_int32(env, signum, &arg) == napi_ok) {
    w->in_callback++;
    napi_make_callback(env, w->async, recv, fn, 1, &arg, NULL);
    w->in_callback--;
    bool pending = false;
    napi_value exc;
    /* as Node does for its own callbacks: 'uncaughtException', or the process ends */
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending && napi_get_and_clear_last_exception(env, &exc) == napi_ok) {
      napi_fatal_exception(env, exc);
    }
  }
  napi_close_handle_scope(env, scope);
  if (w->release_due && w->in_callback == 0) release(w, false);
}

static void throw_pending_or(napi_env env, const char *msg) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  napi_throw_error(env, "ERR_ALIVED_SIGNAL_INTERNAL", msg);
}

static napi_value js_realtime_signals(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out, min, max;
  if (napi_create_object(env, &out) != napi_ok || napi_create_int32(env, SIGRTMIN, &min) != napi_ok ||
      napi_create_int32(env, SIGRTMAX, &max) != napi_ok || napi_set_named_property(env, out, "min", min) != napi_ok ||
      napi_set_named_property(env, out, "max", max) != napi_ok) {
    throw_pending_or(env, "internal N-API failure in realtimeSignals()");
    return NULL;
  }
  return out;
}

static napi_value js_watch(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_pending_or(env, "internal N-API failure in watchSignal()");
    return NULL;
  }
  napi_valuetype t0 = napi_undefined, t1 = napi_undefined;
  if (argc >= 2) {
    napi_typeof(env, argv[0], &t0);
    napi_typeof(env, argv[1], &t1);
  }
  if (t0 != napi_number || t1 != napi_function) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "watchSignal(signum, onSignal): a signal number and a function");
    return NULL;
  }
  int32_t signum = 0;
  napi_get_value_int32(env, argv[0], &signum);
  /* SIGKILL and SIGSTOP cannot be caught; the others below SIGRTMIN are Node's (process.on) */
  if (signum < SIGRTMIN || signum > SIGRTMAX) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "watchSignal(signum, onSignal): signum must be a real-time signal (SIGRTMIN..SIGRTMAX)");
    return NULL;
  }
  uv_loop_t *loop = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    throw_pending_or(env, "cannot reach the event loop");
    return NULL;
  }
  watcher *w = calloc(1, sizeof *w);
  if (w == NULL) {
    napi_throw_error(env, "ENOMEM", "watchSignal(): out of memory");
    return NULL;
  }
  w->env = env;
  w->uv_closed = true; /* until uv_signal_init */
  napi_value handle, name;
  if (napi_create_object(env, &handle) != napi_ok || napi_wrap(env, handle, w, finalize, NULL, NULL) != napi_ok) {
    free(w);
    throw_pending_or(env, "cannot create the handle");
    return NULL;
  }
  /* from here the finalizer owns w */
  bool ok = napi_type_tag_object(env, handle, &SIGNAL_TAG) == napi_ok && napi_create_reference(env, argv[1], 1, &w->callback) == napi_ok &&
            napi_create_string_utf8(env, "alived:signal", NAPI_AUTO_LENGTH, &name) == napi_ok &&
            napi_async_init(env, handle, name, &w->async) == napi_ok && napi_create_reference(env, handle, 1, &w->self) == napi_ok;
  if (ok && napi_add_env_cleanup_hook(env, on_env_cleanup, w) == napi_ok) w->cleanup_hook = true;
  else ok = false;
  if (!ok) {
    close_watcher(w);
    throw_pending_or(env, "cannot set up the handle");
    return NULL;
  }
  int err = uv_signal_init(loop, &w->sig);
  if (err == 0) {
    w->sig.data = w;
    w->uv_closed = false;
    w->started = true;
    err = uv_signal_start(&w->sig, on_signal, signum);
    uv_unref((uv_handle_t *)&w->sig);
  }
  if (err != 0) {
    close_watcher(w);
    napi_value msg, code, e;
    napi_create_string_utf8(env, uv_err_name(err), NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, uv_strerror(err), NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &e);
    napi_throw(env, e);
    return NULL;
  }
  return handle;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    throw_pending_or(env, "internal N-API failure in closeSignal()");
    return NULL;
  }
  bool tagged = false;
  void *data = NULL;
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_object || napi_check_object_type_tag(env, argv[0], &SIGNAL_TAG, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, argv[0], &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "closeSignal(handle): not a handle from watchSignal()");
    return NULL;
  }
  close_watcher(data);
  return NULL;
}

napi_value alived_signal_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"realtimeSignals", NULL, js_realtime_signals, NULL, NULL, NULL, napi_enumerable, NULL},
      {"watchSignal", NULL, js_watch, NULL, NULL, NULL, napi_enumerable, NULL},
      {"closeSignal", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
