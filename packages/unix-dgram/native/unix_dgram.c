// Unix datagram sockets for Node.js, on Node-API and the event loop's own poller.
//
// Every piece of state lives in the socket it belongs to (no statics), so the addon is safe to
// load in several worker threads at once. Descriptors are non-blocking and close-on-exec.
// Datagrams are received whole: each one is copied into a Buffer of its exact size, and one that
// did not fit the receive buffer is reported as truncated rather than handed on cut.
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#define MAX_BATCH 64

typedef struct {
  int fd;
  int polling;    // uv_poll initialised and its close callback not yet run
  int events;     // events the poll watches
  int closed;     // close() ran (or the handle was finalised)
  int finalized;  // the JS handle is gone
  uv_poll_t poll;
  napi_env env;
  napi_ref on_message;   // (data: Buffer, sender: string | null, size: number) => void
  napi_ref on_error;     // (code: string) => void
  napi_async_context context;
  char* buffer;
  size_t buffer_size;
} unix_dgram_t;

#define CHECK(call)                                                              \
  do {                                                                           \
    if ((call) != napi_ok) {                                                     \
      napi_throw_error(env, "ERR_SOCKSERVE_NATIVE", "Node-API call failed: " #call); \
      return NULL;                                                               \
    }                                                                            \
  } while (0)

static napi_value throw_errno(napi_env env, int err, const char* syscall) {
  char message[160];
  const char* code = uv_err_name(-err);
  snprintf(message, sizeof message, "%s %s: %s", syscall, code, strerror(err));
  napi_value error, code_value, syscall_value, msg_value;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg_value);
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_value);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &syscall_value);
  napi_create_error(env, code_value, msg_value, &error);
  napi_set_named_property(env, error, "syscall", syscall_value);
  napi_throw(env, error);
  return NULL;
}

static napi_value code_string(napi_env env, int err) {
  napi_value value;
  napi_create_string_utf8(env, uv_err_name(-err), NAPI_AUTO_LENGTH, &value);
  return value;
}

static unix_dgram_t* unwrap(napi_env env, napi_value value) {
  void* data = NULL;
  if (napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    napi_throw_type_error(env, "ERR_SOCKSERVE_INVALID_ARGUMENT", "Expected a unix datagram socket handle");
    return NULL;
  }
  unix_dgram_t* self = data;
  if (self->closed) {
    napi_throw_error(env, "EBADF", "The unix datagram socket is closed");
    return NULL;
  }
  return self;
}

// Fills `address` from a JS string: a path, or an abstract name starting with '\0' (exact length).
static int to_sockaddr(napi_env env, napi_value value, struct sockaddr_un* address, socklen_t* length) {
  size_t size = 0;
  memset(address, 0, sizeof *address);
  address->sun_family = AF_UNIX;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &size) != napi_ok) return -EINVAL;
  if (size == 0 || size >= sizeof address->sun_path) return -ENAMETOOLONG;
  char path[sizeof address->sun_path + 1];
  napi_get_value_string_utf8(env, value, path, sizeof path, &size);
  memcpy(address->sun_path, path, size);
  // An abstract name is exactly its bytes; a path also takes its terminating NUL.
  *length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + size + (path[0] == '\0' ? 0 : 1));
  return 0;
}

static napi_value address_value(napi_env env, struct sockaddr_un* address, socklen_t length) {
  napi_value value;
  size_t offset = offsetof(struct sockaddr_un, sun_path);
  if (length <= offset) {
    napi_get_null(env, &value);
    return value;
  }
  size_t size = length - offset;
  if (address->sun_path[0] != '\0') size = strnlen(address->sun_path, size);
  napi_create_string_utf8(env, address->sun_path, size, &value);
  return value;
}

static void call(unix_dgram_t* self, napi_ref ref, size_t argc, napi_value* argv) {
  napi_env env = self->env;
  napi_value callback, receiver, result;
  if (napi_get_reference_value(env, ref, &callback) != napi_ok || callback == NULL) return;
  napi_get_global(env, &receiver);  // napi_make_callback wants an object as `this`
  if (napi_make_callback(env, self->context, receiver, callback, argc, argv, &result) == napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
}

static void on_readable(unix_dgram_t* self) {
  napi_env env = self->env;
  for (int i = 0; i < MAX_BATCH && !self->closed; i++) {
    struct sockaddr_un sender;
    struct iovec vector = {self->buffer, self->buffer_size};
    struct msghdr message;
    memset(&message, 0, sizeof message);
    memset(&sender, 0, sizeof sender);
    message.msg_name = &sender;
    message.msg_namelen = sizeof sender;
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
#ifdef __linux__
    // With MSG_TRUNC, Linux returns the datagram's real length even when it did not fit.
    ssize_t received = recvmsg(self->fd, &message, MSG_DONTWAIT | MSG_TRUNC);
#else
    ssize_t received = recvmsg(self->fd, &message, MSG_DONTWAIT);
#endif
    if (received < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      napi_handle_scope scope;
      napi_open_handle_scope(env, &scope);
      napi_value argv[1] = {code_string(env, errno)};
      call(self, self->on_error, 1, argv);
      napi_close_handle_scope(env, scope);
      return;
    }
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    size_t size = (size_t)received;
    int truncated = (message.msg_flags & MSG_TRUNC) != 0 || size > self->buffer_size;
    napi_value argv[3];
    if (truncated) {
      napi_get_null(env, &argv[0]);
    } else {
      void* data;
      napi_create_buffer_copy(env, size, self->buffer, &data, &argv[0]);
    }
    argv[1] = address_value(env, &sender, message.msg_namelen);
    napi_create_double(env, (double)size, &argv[2]);
    call(self, self->on_message, 3, argv);
    napi_close_handle_scope(env, scope);
  }
}

static void poll_cb(uv_poll_t* handle, int status, int events) {
  unix_dgram_t* self = handle->data;
  if (self->closed) return;
  if (status < 0) {
    napi_handle_scope scope;
    napi_open_handle_scope(self->env, &scope);
    napi_value argv[1];
    napi_create_string_utf8(self->env, uv_err_name(status), NAPI_AUTO_LENGTH, &argv[0]);
    call(self, self->on_error, 1, argv);
    napi_close_handle_scope(self->env, scope);
    return;
  }
  if (events & UV_READABLE) on_readable(self);
}

static void free_socket(unix_dgram_t* self) {
  free(self->buffer);
  free(self);
}

// Memory is freed once both the JS handle is finalised and libuv is done with the poll handle.
static void after_poll_close(uv_handle_t* handle) {
  unix_dgram_t* self = handle->data;
  self->polling = 0;
  if (self->finalized) free_socket(self);
}

static void release(napi_env env, unix_dgram_t* self) {
  if (self->on_message) napi_delete_reference(env, self->on_message);
  if (self->on_error) napi_delete_reference(env, self->on_error);
  if (self->context) napi_async_destroy(env, self->context);
  self->on_message = self->on_error = NULL;
  self->context = NULL;
}

static void shut(napi_env env, unix_dgram_t* self) {
  if (self->closed) return;
  self->closed = 1;
  release(env, self);
  if (self->polling) {
    uv_poll_stop(&self->poll);
    uv_close((uv_handle_t*)&self->poll, after_poll_close);
  }
  close(self->fd);
  self->fd = -1;
}

static void finalize(napi_env env, void* data, void* hint) {
  (void)hint;
  unix_dgram_t* self = data;
  self->finalized = 1;
  shut(env, self);  // dropped without close(): release everything here
  if (!self->polling) free_socket(self);
}

static napi_value wrap(napi_env env, int fd, size_t buffer_size) {
  unix_dgram_t* self = calloc(1, sizeof *self);
  if (self == NULL) return throw_errno(env, ENOMEM, "calloc");
  self->fd = fd;
  self->env = env;
  self->buffer_size = buffer_size;
  self->buffer = malloc(buffer_size);
  if (self->buffer == NULL) {
    free(self);
    return throw_errno(env, ENOMEM, "malloc");
  }
  napi_value external;
  if (napi_create_external(env, self, finalize, NULL, &external) != napi_ok) {
    free_socket(self);
    napi_throw_error(env, "ERR_SOCKSERVE_NATIVE", "napi_create_external failed");
    return NULL;
  }
  return external;
}

static int configure(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -errno;
  int fdflags = fcntl(fd, F_GETFD);
  if (fdflags < 0 || fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC) < 0) return -errno;
  return 0;
}

static size_t buffer_size_arg(napi_env env, napi_value value) {
  double size = 0;
  if (napi_get_value_double(env, value, &size) != napi_ok || size < 1) return 0;
  return (size_t)size;
}

// socket(bufferSize): handle
static napi_value js_socket(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  size_t size = argc > 0 ? buffer_size_arg(env, argv[0]) : 0;
  if (size == 0) size = 256 * 1024;
#ifdef SOCK_CLOEXEC
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
#else
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0) return throw_errno(env, errno, "socket");
  int err = configure(fd);
  if (err < 0) {
    close(fd);
    return throw_errno(env, -err, "fcntl");
  }
#endif
  napi_value handle = wrap(env, fd, size);
  if (handle == NULL) close(fd);
  return handle;
}

// adopt(fd, bufferSize): handle for a descriptor that is already a unix datagram socket
static napi_value js_adopt(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, "ERR_SOCKSERVE_INVALID_ARGUMENT", "Expected a file descriptor");
    return NULL;
  }
  int type = 0;
  socklen_t length = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) < 0) return throw_errno(env, errno, "getsockopt");
  if (type != SOCK_DGRAM) return throw_errno(env, EPROTOTYPE, "adopt");
  int err = configure(fd);
  if (err < 0) return throw_errno(env, -err, "fcntl");
  size_t size = argc > 1 ? buffer_size_arg(env, argv[1]) : 0;
  return wrap(env, fd, size == 0 ? 256 * 1024 : size);
}

// bind(handle, address)
static napi_value js_bind(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  unix_dgram_t* self = unwrap(env, argv[0]);
  if (self == NULL) return NULL;
  struct sockaddr_un address;
  socklen_t length;
  int err = to_sockaddr(env, argv[1], &address, &length);
  if (err < 0) return throw_errno(env, -err, "bind");
  if (bind(self->fd, (struct sockaddr*)&address, length) < 0) return throw_errno(env, errno, "bind");
  return NULL;
}

// start(handle, onMessage, onError)
static napi_value js_start(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  unix_dgram_t* self = unwrap(env, argv[0]);
  if (self == NULL) return NULL;
  if (self->polling) return NULL;
  uv_loop_t* loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  CHECK(napi_create_reference(env, argv[1], 1, &self->on_message));
  CHECK(napi_create_reference(env, argv[2], 1, &self->on_error));
  napi_value name;
  CHECK(napi_create_string_utf8(env, "sockserve:UnixDatagramSocket", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_async_init(env, NULL, name, &self->context));
  int err = uv_poll_init(loop, &self->poll, self->fd);
  if (err < 0) return throw_errno(env, -err, "uv_poll_init");
  self->poll.data = self;
  self->polling = 1;
  self->events = UV_READABLE;
  uv_poll_start(&self->poll, self->events, poll_cb);
  return NULL;
}

// sendTo(handle, data, address): '' when sent, else an error code. 'EAGAIN' means the receiver's
// queue is full: poll() cannot say when an unconnected datagram socket may send again (waiting
// for POLLOUT would spin), so the caller retries with a backoff while reads go on.
static napi_value js_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  unix_dgram_t* self = unwrap(env, argv[0]);
  if (self == NULL) return NULL;
  void* data;
  size_t size;
  if (napi_get_buffer_info(env, argv[1], &data, &size) != napi_ok) {
    napi_throw_type_error(env, "ERR_SOCKSERVE_INVALID_ARGUMENT", "Expected the data to be a Buffer");
    return NULL;
  }
  struct sockaddr_un address;
  socklen_t length;
  int err = to_sockaddr(env, argv[2], &address, &length);
  if (err < 0) return code_string(env, -err);
  ssize_t sent;
  do {
    sent = sendto(self->fd, data, size, MSG_DONTWAIT, (struct sockaddr*)&address, length);
  } while (sent < 0 && errno == EINTR);
  napi_value result;
  if (sent < 0) {
    int code = errno == EWOULDBLOCK ? EAGAIN : errno;
    return code_string(env, code);
  }
  napi_create_string_utf8(env, "", 0, &result);
  return result;
}

// ref(handle, boolean): whether the socket keeps the event loop alive
static napi_value js_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  unix_dgram_t* self = unwrap(env, argv[0]);
  if (self == NULL || !self->polling) return NULL;
  bool ref = true;
  napi_get_value_bool(env, argv[1], &ref);
  if (ref) uv_ref((uv_handle_t*)&self->poll);
  else uv_unref((uv_handle_t*)&self->poll);
  return NULL;
}

// pause(handle, boolean): stop (or restart) watching for datagrams; sends and the descriptor are
// unaffected, so a process can keep a socket open for children that read it.
static napi_value js_pause(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  unix_dgram_t* self = unwrap(env, argv[0]);
  if (self == NULL || !self->polling || self->closed) return NULL;
  bool paused = true;
  napi_get_value_bool(env, argv[1], &paused);
  if (paused) uv_poll_stop(&self->poll);
  else uv_poll_start(&self->poll, self->events, poll_cb);
  return NULL;
}

// localAddress(handle): the bound path or abstract name, or null
static napi_value js_local_address(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  unix_dgram_t* self = unwrap(env, argv[0]);
  if (self == NULL) return NULL;
  struct sockaddr_un address;
  socklen_t length = sizeof address;
  memset(&address, 0, sizeof address);
  if (getsockname(self->fd, (struct sockaddr*)&address, &length) < 0) return throw_errno(env, errno, "getsockname");
  return address_value(env, &address, length);
}

// fd(handle): the descriptor number
static napi_value js_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  unix_dgram_t* self = unwrap(env, argv[0]);
  if (self == NULL) return NULL;
  napi_value value;
  napi_create_int32(env, self->fd, &value);
  return value;
}

// close(handle)
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void* data = NULL;
  if (napi_get_value_external(env, argv[0], &data) != napi_ok || data == NULL) return NULL;
  shut(env, data);
  return NULL;
}

// probe(path): '' when a datagram socket is bound at `path`, else the error code of connecting
// to it (ECONNREFUSED: a stale file nobody is bound to; ENOENT: nothing there)
static napi_value js_probe(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct sockaddr_un address;
  socklen_t length;
  int err = to_sockaddr(env, argv[0], &address, &length);
  if (err < 0) return code_string(env, -err);
  int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  if (fd < 0) return code_string(env, errno);
  int result = connect(fd, (struct sockaddr*)&address, length) < 0 ? errno : 0;
  close(fd);
  if (result != 0) return code_string(env, result);
  napi_value empty;
  napi_create_string_utf8(env, "", 0, &empty);
  return empty;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor functions[] = {
      {"socket", NULL, js_socket, NULL, NULL, NULL, napi_default, NULL},
      {"adopt", NULL, js_adopt, NULL, NULL, NULL, napi_default, NULL},
      {"bind", NULL, js_bind, NULL, NULL, NULL, napi_default, NULL},
      {"start", NULL, js_start, NULL, NULL, NULL, napi_default, NULL},
      {"sendTo", NULL, js_send_to, NULL, NULL, NULL, napi_default, NULL},
      {"ref", NULL, js_ref, NULL, NULL, NULL, napi_default, NULL},
      {"pause", NULL, js_pause, NULL, NULL, NULL, napi_default, NULL},
      {"localAddress", NULL, js_local_address, NULL, NULL, NULL, napi_default, NULL},
      {"fd", NULL, js_fd, NULL, NULL, NULL, napi_default, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_default, NULL},
      {"probe", NULL, js_probe, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}
