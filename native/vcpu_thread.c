/*
 * vCPU threads: each runs KVM_RUN off the JavaScript event loop.
 *
 * Protocol (one vCPU): the thread runs KVM_RUN, then reports the result (0 or errno)
 * to JS through a thread-safe function and waits. JS reads the exit from the shared
 * kvm_run mapping, services it, and calls vcpuResume() to run again, or leaves the
 * thread parked (paused). vcpuKick() forces a running vCPU out of KVM_RUN at any
 * moment: it sets kvm_run.immediate_exit and sends a real-time signal to the thread,
 * so a kick that lands just before KVM_RUN is not lost (KVM checks the flag on entry).
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define KICK_SIGNAL (SIGRTMIN + 4)

typedef struct {
  pthread_t tid;
  int fd;
  struct kvm_run *run;
  napi_ref run_ref;
  napi_threadsafe_function tsfn;
  pthread_mutex_t lock;
  pthread_cond_t cond;
  int go;
  int stop;
  int joined;
  int linux_tid;
  /* CLOCK_MONOTONIC ns of the last kick and of the last return from KVM_RUN (diagnostics:
   * they split a pause's parking into leaving KVM_RUN and reaching JavaScript). */
  int64_t kick_ns;
  int64_t exit_ns;
} vcpu_thread_t;

static int64_t monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void kick_handler(int sig) { (void)sig; }

static void call_js(napi_env env, napi_value js_cb, void *context, void *data) {
  if (env == NULL || js_cb == NULL) return;
  napi_value undefined, arg;
  napi_get_undefined(env, &undefined);
  napi_create_int32(env, (int32_t)(intptr_t)data, &arg);
  napi_call_function(env, undefined, js_cb, 1, &arg, NULL);
}

static void *thread_main(void *opaque) {
  vcpu_thread_t *t = opaque;
  /* Only the kick signal reaches this thread; the process's signals go to Node. */
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, KICK_SIGNAL);
  pthread_sigmask(SIG_SETMASK, &all, NULL);
  /* Named, so top -H, perf and /proc/PID/task tell guest time from the VMM's own. */
  pthread_setname_np(pthread_self(), "cuju-vcpu");
  pthread_mutex_lock(&t->lock);
  t->linux_tid = gettid();
  pthread_cond_broadcast(&t->cond);
  pthread_mutex_unlock(&t->lock);
  for (;;) {
    pthread_mutex_lock(&t->lock);
    while (!t->go && !t->stop) pthread_cond_wait(&t->cond, &t->lock);
    if (t->stop) {
      pthread_mutex_unlock(&t->lock);
      break;
    }
    t->go = 0;
    pthread_mutex_unlock(&t->lock);
    int r = ioctl(t->fd, KVM_RUN, 0);
    int err = r < 0 ? errno : 0;
    __atomic_store_n(&t->exit_ns, monotonic_ns(), __ATOMIC_RELAXED);
    napi_call_threadsafe_function(t->tsfn, (void *)(intptr_t)err, napi_tsfn_blocking);
  }
  napi_release_threadsafe_function(t->tsfn, napi_tsfn_release);
  return NULL;
}

static vcpu_thread_t *unwrap(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, "EARGS", "expected a vCPU thread handle");
    return NULL;
  }
  return p;
}

/* vcpuStart(vcpuFd, kvmRunArrayBuffer, onExit(errno)) -> handle; the vCPU starts parked. */
static napi_value js_vcpu_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  void *run;
  size_t run_len;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok ||
      napi_get_arraybuffer_info(env, argv[1], &run, &run_len) != napi_ok || run_len < sizeof(struct kvm_run)) {
    napi_throw_type_error(env, "EARGS", "vcpuStart(fd, kvmRun: ArrayBuffer, onExit)");
    return NULL;
  }
  vcpu_thread_t *t = calloc(1, sizeof *t);
  t->fd = fd;
  t->run = run;
  pthread_mutex_init(&t->lock, NULL);
  pthread_cond_init(&t->cond, NULL);
  CHECK_NAPI(env, napi_create_reference(env, argv[1], 1, &t->run_ref));
  napi_value name;
  napi_create_string_utf8(env, "cuju-vcpu", NAPI_AUTO_LENGTH, &name);
  CHECK_NAPI(env, napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, NULL, NULL, t, call_js, &t->tsfn));
  int e = pthread_create(&t->tid, NULL, thread_main, t);
  if (e != 0) {
    napi_release_threadsafe_function(t->tsfn, napi_tsfn_abort);
    return throw_errno(env, e, "pthread_create");
  }
  /* Wait until the thread knows its id, so vcpuThreadId() never reports 0. */
  pthread_mutex_lock(&t->lock);
  while (t->linux_tid == 0) pthread_cond_wait(&t->cond, &t->lock);
  pthread_mutex_unlock(&t->lock);
  napi_value handle;
  CHECK_NAPI(env, napi_create_external(env, t, NULL, NULL, &handle));
  return handle;
}

/*
 * vcpuResume(handle[, completeOnly]): run KVM_RUN once more (clears a pending kick).
 * completeOnly: with immediate_exit set, so KVM only completes the I/O the last exit
 * asked for (the IN/MMIO-read value, the instruction pointer past the instruction) and
 * returns EINTR: a vCPU parked after that has state that does not replay the I/O.
 */
static napi_value js_vcpu_resume(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  vcpu_thread_t *t = unwrap(env, argv[0]);
  if (!t) return NULL;
  bool complete_only = false;
  if (argc > 1) napi_get_value_bool(env, argv[1], &complete_only);
  pthread_mutex_lock(&t->lock);
  __atomic_store_n(&t->run->immediate_exit, complete_only ? 1 : 0, __ATOMIC_SEQ_CST);
  t->go = 1;
  pthread_cond_signal(&t->cond);
  pthread_mutex_unlock(&t->lock);
  return NULL;
}

/* vcpuKick(handle): make a running KVM_RUN return (EINTR) as soon as possible. */
static napi_value js_vcpu_kick(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  vcpu_thread_t *t = unwrap(env, argv[0]);
  if (!t) return NULL;
  __atomic_store_n(&t->kick_ns, monotonic_ns(), __ATOMIC_RELAXED);
  __atomic_store_n(&t->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
  if (!t->joined) pthread_kill(t->tid, KICK_SIGNAL);
  return NULL;
}

/* vcpuTimes(handle) -> [last kick, last KVM_RUN return], CLOCK_MONOTONIC in µs (process.hrtime's clock). */
static napi_value js_vcpu_times(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  vcpu_thread_t *t = unwrap(env, argv[0]);
  if (!t) return NULL;
  napi_value out, kick, exit;
  CHECK_NAPI(env, napi_create_array_with_length(env, 2, &out));
  CHECK_NAPI(env, napi_create_double(env, (double)__atomic_load_n(&t->kick_ns, __ATOMIC_RELAXED) / 1000.0, &kick));
  CHECK_NAPI(env, napi_create_double(env, (double)__atomic_load_n(&t->exit_ns, __ATOMIC_RELAXED) / 1000.0, &exit));
  napi_set_element(env, out, 0, kick);
  napi_set_element(env, out, 1, exit);
  return out;
}

/* vcpuStop(handle): end the thread and wait for it. Exits already queued are still delivered. */
static napi_value js_vcpu_stop(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  vcpu_thread_t *t = unwrap(env, argv[0]);
  if (!t || t->joined) return NULL;
  pthread_mutex_lock(&t->lock);
  t->stop = 1;
  __atomic_store_n(&t->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
  pthread_cond_signal(&t->cond);
  pthread_mutex_unlock(&t->lock);
  pthread_kill(t->tid, KICK_SIGNAL);
  pthread_join(t->tid, NULL);
  t->joined = 1;
  napi_delete_reference(env, t->run_ref);
  return NULL;
}

/* vcpuThreadId(handle) -> the Linux thread id (what QEMU's `info cpus` shows). */
static napi_value js_vcpu_thread_id(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  vcpu_thread_t *t = unwrap(env, argv[0]);
  if (!t) return NULL;
  return make_i64(env, t->linux_tid);
}

napi_value vcpu_thread_init(napi_env env, napi_value exports) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = kick_handler; /* no SA_RESTART: the signal must interrupt KVM_RUN */
  sigemptyset(&sa.sa_mask);
  sigaction(KICK_SIGNAL, &sa, NULL);
  struct { const char *name; napi_callback fn; } fns[] = {
    {"vcpuStart", js_vcpu_start}, {"vcpuResume", js_vcpu_resume},
    {"vcpuKick", js_vcpu_kick},   {"vcpuStop", js_vcpu_stop},
    {"vcpuThreadId", js_vcpu_thread_id}, {"vcpuTimes", js_vcpu_times},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    CHECK_NAPI(env, napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f));
    CHECK_NAPI(env, napi_set_named_property(env, exports, fns[i].name, f));
  }
  return exports;
}
