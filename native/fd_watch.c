/*
 * fd watcher: tells JavaScript when a file descriptor becomes readable (an eventfd
 * behind a KVM ioeventfd, a tap device). Node cannot poll arbitrary fds, so one
 * epoll thread waits on all watched fds and calls back on the main thread.
 *
 * Each fd is registered EPOLLONESHOT: after it fires it stays disarmed until the JS
 * callback has run (and drained the fd), then it is re-armed here. So a slow event
 * loop never receives a flood of callbacks for one readable fd.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

typedef struct {
  int fd;
  int active;
  napi_threadsafe_function tsfn;
} watch_t;

static int epfd = -1;
static pthread_t poller;

static void *poll_main(void *arg) {
  struct epoll_event events[64];
  pthread_setname_np(pthread_self(), "cuju-fdwatch");
  for (;;) {
    int n = epoll_wait(epfd, events, 64, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return NULL;
    }
    for (int i = 0; i < n; i++) {
      watch_t *w = events[i].data.ptr;
      napi_call_threadsafe_function(w->tsfn, w, napi_tsfn_nonblocking);
    }
  }
  return NULL;
}

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  watch_t *w = data;
  if (env == NULL || !w->active) return;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  napi_call_function(env, undefined, js_cb, 0, NULL, NULL);
  if (w->active) {
    struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = w};
    epoll_ctl(epfd, EPOLL_CTL_MOD, w->fd, &ev);
  }
}

static void finalize_watch(napi_env env, void *data, void *hint) { free(data); }

/* watchFd(fd, onReadable) -> handle */
static napi_value js_watch_fd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
    napi_throw_type_error(env, "EARGS", "watchFd(fd, onReadable)");
    return NULL;
  }
  if (epfd < 0) {
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) return throw_errno(env, errno, "epoll_create1");
    int e = pthread_create(&poller, NULL, poll_main, NULL);
    if (e != 0) return throw_errno(env, e, "pthread_create");
    pthread_detach(poller);
  }
  watch_t *w = calloc(1, sizeof *w);
  w->fd = fd;
  w->active = 1;
  napi_value name;
  napi_create_string_utf8(env, "cuju-fd-watch", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[1], NULL, name, 0, 1, w, finalize_watch, NULL, call_js, &w->tsfn) != napi_ok) {
    free(w);
    napi_throw_error(env, "ENAPI", "cannot create the fd watcher callback");
    return NULL;
  }
  struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = w};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
    int err = errno;
    w->active = 0;
    napi_release_threadsafe_function(w->tsfn, napi_tsfn_abort);
    return throw_errno(env, err, "epoll_ctl");
  }
  napi_value handle;
  CHECK_NAPI(env, napi_create_external(env, w, NULL, NULL, &handle));
  return handle;
}

/* unwatchFd(handle): stop watching; callbacks already queued are dropped. */
static napi_value js_unwatch_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  watch_t *w = NULL;
  if (argc < 1 || napi_get_value_external(env, argv[0], (void **)&w) != napi_ok || w == NULL) {
    napi_throw_type_error(env, "EARGS", "unwatchFd(handle)");
    return NULL;
  }
  if (!w->active) return NULL;
  w->active = 0;
  epoll_ctl(epfd, EPOLL_CTL_DEL, w->fd, NULL);
  napi_release_threadsafe_function(w->tsfn, napi_tsfn_release);
  return NULL;
}

napi_value fd_watch_init(napi_env env, napi_value exports) {
  napi_value f;
  CHECK_NAPI(env, napi_create_function(env, "watchFd", NAPI_AUTO_LENGTH, js_watch_fd, NULL, &f));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "watchFd", f));
  CHECK_NAPI(env, napi_create_function(env, "unwatchFd", NAPI_AUTO_LENGTH, js_unwatch_fd, NULL, &f));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "unwatchFd", f));
  return exports;
}
