// TAP devices for vnet's real world: open one (TUNSETIFF, the ioctl Node cannot make), read
// the frames the kernel hands it in batches into a buffer the JavaScript side owns, and write
// frames back. A reader watches the descriptor on Node's own event loop (uv_poll), so frames
// arrive as ordinary callbacks on the main thread, many per callback under load, and nothing is
// allocated per frame on either side.
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#include "addon.h"

namespace vnet {

// tapOpen(name) -> { fd, name }: a non-blocking TAP without the packet-information header.
static Napi::Value TapOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    throw Napi::TypeError::New(env, "tapOpen(name): name must be a string");
  }
  std::string name = info[0].As<Napi::String>();
  if (name.size() >= IFNAMSIZ) throw Napi::RangeError::New(env, "interface name longer than 15 bytes");
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) ThrowErrno(env, "open /dev/net/tun", errno);
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  memcpy(ifr.ifr_name, name.data(), name.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "TUNSETIFF " + name, err);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("name", Napi::String::New(env, ifr.ifr_name));
  return out;
}

// tapWrite(fd, bytes, start, end) -> bytes written, or -errno (EAGAIN: the kernel's queue is full).
static Napi::Value TapWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  size_t start = info[2].As<Napi::Number>().Uint32Value();
  size_t end = info[3].As<Napi::Number>().Uint32Value();
  if (end > bytes.ElementLength() || start > end) throw Napi::RangeError::New(env, "tapWrite: range outside the buffer");
  ssize_t n = write(fd, bytes.Data() + start, end - start);
  return Napi::Number::New(env, n < 0 ? -errno : static_cast<double>(n));
}

// closeFd(fd): closes a descriptor (a TAP disappears with its last descriptor).
static Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (fd >= 0) close(fd);
  return info.Env().Undefined();
}

// new TapReader(fd, slots: Uint8Array, slotBytes, lengths: Int32Array, onFrames(count)): reads
// every frame the kernel has queued into consecutive slots (lengths[i] is frame i's size) and
// calls onFrames(count) once per batch. stop() ends the watch; the descriptor stays open.
class TapReader : public Napi::ObjectWrap<TapReader> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TapReader", {InstanceMethod("stop", &TapReader::Stop)});
  }

  explicit TapReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TapReader>(info) {
    Napi::Env env = info.Env();
    fd_ = info[0].As<Napi::Number>().Int32Value();
    Napi::Uint8Array slots = info[1].As<Napi::Uint8Array>();
    slotBytes_ = info[2].As<Napi::Number>().Uint32Value();
    Napi::Int32Array lengths = info[3].As<Napi::Int32Array>();
    if (slotBytes_ == 0 || lengths.ElementLength() == 0 ||
        slots.ElementLength() < static_cast<size_t>(slotBytes_) * lengths.ElementLength()) {
      throw Napi::RangeError::New(env, "TapReader: slots buffer smaller than slotBytes x lengths");
    }
    slots_ = slots.Data();
    lengths_ = lengths.Data();
    maxFrames_ = lengths.ElementLength();
    slotsRef_ = Napi::Persistent(slots);
    lengthsRef_ = Napi::Persistent(lengths);
    callback_ = Napi::Persistent(info[4].As<Napi::Function>());
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    int rc = uv_poll_init(loop, poll_, fd_);
    if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE, &TapReader::OnReadable);
    if (rc != 0) {
      delete poll_;
      poll_ = nullptr;
      throw Napi::Error::New(env, std::string("TapReader: ") + uv_strerror(rc));
    }
    Ref();  // kept alive while polling
  }

 private:
  static void OnReadable(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<TapReader*>(handle->data);
    if (status < 0 || self->poll_ == nullptr) return;
    self->Drain();
  }

  void Drain() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    // A few batches per wake-up at most, so one busy TAP cannot starve the rest of the loop.
    for (int batch = 0; batch < 4 && poll_ != nullptr; batch++) {
      uint32_t count = 0;
      while (count < maxFrames_) {
        ssize_t n = read(fd_, slots_ + static_cast<size_t>(count) * slotBytes_, slotBytes_);
        if (n <= 0) break;
        lengths_[count++] = static_cast<int32_t>(n);
      }
      if (count == 0) return;
      callback_.MakeCallback(env.Global(), {Napi::Number::New(env, count)});
      if (env.IsExceptionPending()) return;
      if (count < maxFrames_) return;
    }
  }

  static void OnClose(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), &TapReader::OnClose);
      poll_ = nullptr;
      Unref();
    }
    return info.Env().Undefined();
  }

  int fd_ = -1;
  uint8_t* slots_ = nullptr;
  int32_t* lengths_ = nullptr;
  uint32_t slotBytes_ = 0;
  uint32_t maxFrames_ = 0;
  uv_poll_t* poll_ = nullptr;
  Napi::Reference<Napi::Uint8Array> slotsRef_;
  Napi::Reference<Napi::Int32Array> lengthsRef_;
  Napi::FunctionReference callback_;
};

void InitTap(Napi::Env env, Napi::Object exports) {
  exports.Set("tapOpen", Napi::Function::New(env, TapOpen));
  exports.Set("tapWrite", Napi::Function::New(env, TapWrite));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("TapReader", TapReader::Define(env));
}

}  // namespace vnet
