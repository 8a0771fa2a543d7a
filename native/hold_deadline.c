/*
 * A kernel-side deadline on this process: a POSIX timer that delivers SIGKILL when it
 * expires. The split-brain lease arms one while it holds the lease file's lock: a VMM
 * frozen (SIGSTOP, a stalled host thread) inside that section would otherwise keep the
 * lock forever and no backup could take over. The kernel's timer fires and SIGKILL ends
 * even a stopped process, which closes its files and so drops the lock. Policy (when to
 * arm, for how long) lives in TypeScript (src/ft/lease/hold-deadline.ts).
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

/* killTimerArm(ms) -> id: SIGKILL this process in `ms` milliseconds unless disarmed. */
static napi_value js_kill_timer_arm(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t ms;
  if (argc < 1 || get_i64(env, argv[0], &ms) != 0 || ms <= 0) {
    napi_throw_type_error(env, "EARGS", "killTimerArm(ms > 0)");
    return NULL;
  }
  struct sigevent sev;
  memset(&sev, 0, sizeof sev);
  sev.sigev_notify = SIGEV_SIGNAL;
  sev.sigev_signo = SIGKILL;
  timer_t timer;
  if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0) return throw_errno(env, errno, "timer_create");
  struct itimerspec when;
  memset(&when, 0, sizeof when);
  when.it_value.tv_sec = ms / 1000;
  when.it_value.tv_nsec = (ms % 1000) * 1000000L;
  if (timer_settime(timer, 0, &when, NULL) < 0) {
    int err = errno;
    timer_delete(timer);
    return throw_errno(env, err, "timer_settime");
  }
  return make_i64(env, (int64_t)(intptr_t)timer);
}

/* killTimerDisarm(id): the deadline is met; the timer is deleted. */
static napi_value js_kill_timer_disarm(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t id;
  if (argc < 1 || get_i64(env, argv[0], &id) != 0) {
    napi_throw_type_error(env, "EARGS", "killTimerDisarm(id)");
    return NULL;
  }
  if (timer_delete((timer_t)(intptr_t)id) < 0) return throw_errno(env, errno, "timer_delete");
  return NULL;
}

napi_value hold_deadline_init(napi_env env, napi_value exports) {
  napi_value f;
  CHECK_NAPI(env, napi_create_function(env, "killTimerArm", NAPI_AUTO_LENGTH, js_kill_timer_arm, NULL, &f));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "killTimerArm", f));
  CHECK_NAPI(env, napi_create_function(env, "killTimerDisarm", NAPI_AUTO_LENGTH, js_kill_timer_disarm, NULL, &f));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "killTimerDisarm", f));
  return exports;
}
