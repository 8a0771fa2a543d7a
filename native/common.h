/* Shared helpers for the cuju native addon: the kernel boundary only, no policy. */
#ifndef CUJU_NATIVE_COMMON_H
#define CUJU_NATIVE_COMMON_H

#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>

#define CHECK_NAPI(env, call)                                   \
  do {                                                          \
    if ((call) != napi_ok) {                                    \
      napi_throw_error((env), "ENAPI", "N-API call failed: " #call); \
      return NULL;                                              \
    }                                                           \
  } while (0)

/* Throws a JS Error carrying .code (e.g. "EINVAL"), .errno and .syscall. */
napi_value throw_errno(napi_env env, int err, const char *syscall);

int get_i64(napi_env env, napi_value v, int64_t *out);
napi_value make_i64(napi_env env, int64_t v);

napi_value vcpu_thread_init(napi_env env, napi_value exports);
napi_value fd_watch_init(napi_env env, napi_value exports);
napi_value file_ops_init(napi_env env, napi_value exports);
napi_value hold_deadline_init(napi_env env, napi_value exports);

#endif
