{
  "targets": [
    {
      "target_name": "cuju_native",
      "sources": ["native/addon.c", "native/vcpu_thread.c", "native/fd_watch.c", "native/file_ops.c", "native/hold_deadline.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
