{
  "targets": [
    {
      "target_name": "unix_dgram",
      "sources": ["native/unix_dgram.c"],
      "cflags": ["-std=c11", "-Wall", "-Wextra", "-O2"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "xcode_settings": { "OTHER_CFLAGS": ["-std=c11", "-Wall", "-Wextra", "-O2"] }
    }
  ]
}
