/*
 * File operations Node lacks: open-file-description locks (QEMU-style image locking:
 * released when the fd closes, shared between processes, not per-process like POSIX
 * locks) and hole punching (virtio-blk DISCARD).
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <string.h>

/* ofdLock(fd, exclusive) -> true when locked, false when another holder conflicts. */
static napi_value js_ofd_lock(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  bool exclusive = false;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || napi_get_value_bool(env, argv[1], &exclusive) != napi_ok) {
    napi_throw_type_error(env, "EARGS", "ofdLock(fd, exclusive)");
    return NULL;
  }
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  napi_value r;
  if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
    if (errno == EAGAIN || errno == EACCES) {
      napi_get_boolean(env, false, &r);
      return r;
    }
    return throw_errno(env, errno, "fcntl(F_OFD_SETLK)");
  }
  napi_get_boolean(env, true, &r);
  return r;
}

/* punchHole(fd, offset, length): deallocate a range; it reads back as zeros, size unchanged. */
static napi_value js_punch_hole(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  int64_t offset, length;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || get_i64(env, argv[1], &offset) != 0 ||
      get_i64(env, argv[2], &length) != 0) {
    napi_throw_type_error(env, "EARGS", "punchHole(fd, offset, length)");
    return NULL;
  }
  if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) < 0) return throw_errno(env, errno, "fallocate");
  return NULL;
}

napi_value file_ops_init(napi_env env, napi_value exports) {
  napi_value f;
  CHECK_NAPI(env, napi_create_function(env, "ofdLock", NAPI_AUTO_LENGTH, js_ofd_lock, NULL, &f));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "ofdLock", f));
  CHECK_NAPI(env, napi_create_function(env, "punchHole", NAPI_AUTO_LENGTH, js_punch_hole, NULL, &f));
  CHECK_NAPI(env, napi_set_named_property(env, exports, "punchHole", f));
  return exports;
}
