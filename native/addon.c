/*
 * cuju native addon: file descriptors, ioctls and memory mappings for KVM.
 * Struct layouts and every decision live in TypeScript (src/kvm); this file only
 * crosses the kernel boundary, so that a bug here is easy to see.
 */
#define _GNU_SOURCE
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static const char *errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";   case ENOENT: return "ENOENT"; case EINTR: return "EINTR";
    case EIO: return "EIO";       case ENXIO: return "ENXIO";   case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";   case EAGAIN: return "EAGAIN"; case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES"; case EFAULT: return "EFAULT"; case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST"; case ENODEV: return "ENODEV"; case EINVAL: return "EINVAL";
    case ENOTTY: return "ENOTTY"; case ENOSPC: return "ENOSPC"; case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "EUNKNOWN";
  }
}

napi_value throw_errno(napi_env env, int err, const char *syscall) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s (%s)", syscall, strerror(err), errno_name(err));
  napi_value code, message, error, num, sc;
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
  return NULL;
}

int get_i64(napi_env env, napi_value v, int64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return -1;
  if (t == napi_bigint) {
    bool lossless;
    return napi_get_value_bigint_int64(env, v, out, &lossless) == napi_ok ? 0 : -1;
  }
  if (t == napi_number) return napi_get_value_int64(env, v, out) == napi_ok ? 0 : -1;
  return -1;
}

napi_value make_i64(napi_env env, int64_t v) {
  napi_value r;
  napi_create_int64(env, v, &r);
  return r;
}

static napi_value args_error(napi_env env, const char *what) {
  napi_throw_type_error(env, "EARGS", what);
  return NULL;
}

/* open(path, flags) -> fd */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  size_t len;
  int32_t flags;
  if (argc < 2 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok ||
      napi_get_value_int32(env, argv[1], &flags) != napi_ok)
    return args_error(env, "open(path: string, flags: number)");
  int fd = open(path, flags | O_CLOEXEC, 0600);
  if (fd < 0) return throw_errno(env, errno, "open");
  return make_i64(env, fd);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) return args_error(env, "close(fd)");
  if (close(fd) < 0) return throw_errno(env, errno, "close");
  return NULL;
}

/*
 * ioctl(fd, request, arg?) -> result.
 * arg: a Buffer/TypedArray (its bytes are passed by pointer, the kernel reads and
 * writes them in place), a number/bigint (passed as the integer argument), or absent.
 */
static napi_value js_ioctl(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  int64_t req;
  if (argc < 2 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || get_i64(env, argv[1], &req) != 0)
    return args_error(env, "ioctl(fd, request, arg?)");
  unsigned long arg = 0;
  if (argc >= 3) {
    bool is_ta = false, is_buf = false;
    napi_is_typedarray(env, argv[2], &is_ta);
    napi_is_buffer(env, argv[2], &is_buf);
    if (is_ta) {
      napi_typedarray_type type;
      size_t length, offset;
      void *data;
      napi_value ab;
      CHECK_NAPI(env, napi_get_typedarray_info(env, argv[2], &type, &length, &data, &ab, &offset));
      arg = (unsigned long)data;
    } else if (is_buf) {
      void *data;
      size_t length;
      CHECK_NAPI(env, napi_get_buffer_info(env, argv[2], &data, &length));
      arg = (unsigned long)data;
    } else {
      int64_t v;
      if (get_i64(env, argv[2], &v) != 0) return args_error(env, "ioctl arg must be a Buffer or an integer");
      arg = (unsigned long)v;
    }
  }
  int r;
  do {
    r = ioctl(fd, (unsigned long)req, arg);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    char name[48];
    snprintf(name, sizeof name, "ioctl 0x%lx", (unsigned long)req);
    return throw_errno(env, errno, name);
  }
  return make_i64(env, r);
}

static void unmap_finalizer(napi_env env, void *data, void *hint) {
  munmap(data, (size_t)(uintptr_t)hint);
}

static napi_value wrap_mapping(napi_env env, void *p, size_t length) {
  napi_value ab;
  if (napi_create_external_arraybuffer(env, p, length, unmap_finalizer, (void *)(uintptr_t)length, &ab) != napi_ok) {
    munmap(p, length);
    napi_throw_error(env, "ENAPI", "cannot wrap mapping in an ArrayBuffer");
    return NULL;
  }
  return ab;
}

/* mmapFd(fd, length, offset, writable) -> ArrayBuffer over a MAP_SHARED mapping. */
static napi_value js_mmap_fd(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  int64_t length, offset;
  bool writable = true;
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || get_i64(env, argv[1], &length) != 0 ||
      get_i64(env, argv[2], &offset) != 0)
    return args_error(env, "mmapFd(fd, length, offset, writable?)");
  if (argc >= 4) napi_get_value_bool(env, argv[3], &writable);
  void *p = mmap(NULL, (size_t)length, PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, fd, offset);
  if (p == MAP_FAILED) return throw_errno(env, errno, "mmap");
  return wrap_mapping(env, p, (size_t)length);
}

/*
 * mmapAnonymous(length, shared) -> ArrayBuffer. Guest RAM: private (or shared, so
 * that a forked helper can see it) anonymous memory, not reserved up front.
 */
static napi_value js_mmap_anonymous(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int64_t length;
  bool shared = false;
  if (argc < 1 || get_i64(env, argv[0], &length) != 0 || length <= 0) return args_error(env, "mmapAnonymous(length)");
  if (argc >= 2) napi_get_value_bool(env, argv[1], &shared);
  void *p = mmap(NULL, (size_t)length, PROT_READ | PROT_WRITE,
                 (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return throw_errno(env, errno, "mmap");
  return wrap_mapping(env, p, (size_t)length);
}

/* addressOf(arrayBuffer) -> bigint host virtual address (for KVM memory slots). */
static napi_value js_address_of(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data;
  size_t length;
  bool is_ab = false;
  if (argc < 1 || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab)
    return args_error(env, "addressOf(arrayBuffer)");
  CHECK_NAPI(env, napi_get_arraybuffer_info(env, argv[0], &data, &length));
  napi_value r;
  CHECK_NAPI(env, napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)data, &r));
  return r;
}

/* eventfd(initval, flags) -> fd */
static napi_value js_eventfd(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t init = 0;
  int32_t flags = 0;
  if (argc >= 1) napi_get_value_uint32(env, argv[0], &init);
  if (argc >= 2) napi_get_value_int32(env, argv[1], &flags);
  int fd = eventfd(init, flags | EFD_CLOEXEC);
  if (fd < 0) return throw_errno(env, errno, "eventfd");
  return make_i64(env, fd);
}

/* residentBytes(arrayBuffer): bytes of the mapping in RAM (mincore), e.g. guest RAM actually used. */
static napi_value js_resident_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK_NAPI(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *data;
  size_t length;
  bool is_ab = false;
  if (argc < 1 || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab)
    return args_error(env, "residentBytes(arrayBuffer)");
  CHECK_NAPI(env, napi_get_arraybuffer_info(env, argv[0], &data, &length));
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t start = (uintptr_t)data & ~(uintptr_t)(page - 1);
  size_t span = (uintptr_t)data + length - start;
  size_t pages = (span + page - 1) / page;
  unsigned char *vec = malloc(pages);
  if (!vec) return throw_errno(env, ENOMEM, "malloc");
  if (mincore((void *)start, span, vec) < 0) {
    int err = errno;
    free(vec);
    return throw_errno(env, err, "mincore");
  }
  int64_t resident = 0;
  for (size_t i = 0; i < pages; i++) resident += vec[i] & 1;
  free(vec);
  return make_i64(env, resident * page);
}

/* mallocTrim(): give freed C-heap memory back to the OS (after boot's big temporary buffers). */
static napi_value js_malloc_trim(napi_env env, napi_callback_info info) {
  napi_value r;
  napi_get_boolean(env, malloc_trim(0) != 0, &r);
  return r;
}

static napi_value js_getpid(napi_env env, napi_callback_info info) { return make_i64(env, getpid()); }

#define EXPORT_FN(name, fn)                                                    \
  do {                                                                         \
    napi_value f;                                                              \
    CHECK_NAPI(env, napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &f)); \
    CHECK_NAPI(env, napi_set_named_property(env, exports, name, f));           \
  } while (0)

static napi_value init(napi_env env, napi_value exports) {
  EXPORT_FN("open", js_open);
  EXPORT_FN("close", js_close);
  EXPORT_FN("ioctl", js_ioctl);
  EXPORT_FN("mmapFd", js_mmap_fd);
  EXPORT_FN("mmapAnonymous", js_mmap_anonymous);
  EXPORT_FN("addressOf", js_address_of);
  EXPORT_FN("eventfd", js_eventfd);
  EXPORT_FN("getpid", js_getpid);
  EXPORT_FN("mallocTrim", js_malloc_trim);
  EXPORT_FN("residentBytes", js_resident_bytes);
  if (fd_watch_init(env, exports) == NULL) return NULL;
  if (file_ops_init(env, exports) == NULL) return NULL;
  if (hold_deadline_init(env, exports) == NULL) return NULL;
  return vcpu_thread_init(env, exports);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
