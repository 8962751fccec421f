// TAP devices for vnet's real world: open one (TUNSETIFF, the ioctl Node cannot make), read
// the frames the kernel hands it in batches into a buffer the JavaScript side owns, and write
// frames back. A reader watches the descriptor on Node's own event loop (uv_poll), so frames
// arrive as ordinary callbacks on the main thread, many per callback under load, and nothing is
// allocated per frame on either side.
#include <errno.h>
#include <fcntl.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#include "addon.h"
#include "uring.h"

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
    return DefineClass(env, "TapReader",
                       {InstanceMethod("stop", &TapReader::Stop), InstanceMethod("pause", &TapReader::Pause),
                        InstanceMethod("resume", &TapReader::Resume), InstanceMethod("ioUring", &TapReader::IoUring)});
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
    const char* off = getenv("VNET_NO_IO_URING");
    if (off == nullptr || strcmp(off, "1") != 0) ring_.Open(64);
  }

 private:
  static void OnReadable(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<TapReader*>(handle->data);
    if (self->poll_ == nullptr) return;
    self->Drain();
    // On an error condition libuv stops the watch and reports a negative status: watch again,
    // or the TAP would never be read after it (a read error is a frame lost, not the end).
    if (status < 0 && self->poll_ != nullptr) uv_poll_start(self->poll_, UV_READABLE, &TapReader::OnReadable);
  }

  // Reads up to maxFrames_ frames through io_uring: `depth_` reads per io_uring_enter (one
  // system call where read() costs one per frame and one more to learn the queue is empty). The
  // descriptor is non-blocking, so each read runs inline and an empty queue answers EAGAIN at
  // once (nothing is left pending in the kernel). The depth doubles while every read finds a
  // frame and halves when most find none, so a trickle costs few failed reads. Frames land in
  // consecutive slots in the order the kernel queued them.
  uint32_t ReadBatch() {
    uint32_t count = 0;
    while (count < maxFrames_) {
      unsigned n = std::min<unsigned>({depth_, maxFrames_ - count, ring_.Capacity()});
      for (unsigned i = 0; i < n; i++) {
        ring_.Prep(IORING_OP_READ, fd_, slots_ + static_cast<size_t>(count + i) * slotBytes_, slotBytes_, count + i);
      }
      unsigned done = 0;
      bool failed = false;
      bool unsupported = false;
      auto reap = [&](uint64_t slot, int res) {
        done++;
        if (res == -EOPNOTSUPP || res == -EINVAL) unsupported = true;
        lengths_[slot] = res > 0 ? res : -1;
      };
      while (done < n) {
        if (ring_.Submit(n - done) < 0) {
          failed = true;
          break;
        }
        ring_.Reap(reap);
      }
      if (unsupported) failed = true;
      if (failed) {
        // The ring refused: keep what it read, go on with read() (the ring is not used again).
        ring_.Reap(reap);
        ring_.Close();
      }
      // Keep the frames in order with no holes (a frame can arrive between two reads of a batch,
      // after one of them found the queue empty).
      unsigned got = 0;
      for (unsigned i = 0; i < n; i++) {
        int32_t len = lengths_[count + i];
        if (len <= 0) {
          continue;
        }
        if (got != i) {
          memmove(slots_ + static_cast<size_t>(count + got) * slotBytes_,
                  slots_ + static_cast<size_t>(count + i) * slotBytes_, static_cast<size_t>(len));
          lengths_[count + got] = len;
        }
        got++;
      }
      count += got;
      if (got == n && !failed) {
        depth_ = std::min<unsigned>(depth_ * 2, 64);
        continue;
      }
      if (got * 4 < n && depth_ > 4) depth_ /= 2;
      break;
    }
    return count;
  }

  void Drain() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    // A few batches per wake-up at most, so one busy TAP cannot starve the rest of the loop.
    for (int batch = 0; batch < 4 && poll_ != nullptr; batch++) {
      uint32_t count = ring_.IsOpen() ? ReadBatch() : 0;
      if (!ring_.IsOpen()) {
        while (count < maxFrames_) {
          ssize_t n = read(fd_, slots_ + static_cast<size_t>(count) * slotBytes_, slotBytes_);
          if (n <= 0) break;
          lengths_[count++] = static_cast<int32_t>(n);
        }
      }
      if (count == 0) return;
      // This runs from libuv with no JavaScript below it: an exception the callback throws must
      // not unwind into libuv (that aborts the process); it goes to Node as an uncaught
      // exception, as one from any other event callback would.
      try {
        callback_.MakeCallback(env.Global(), {Napi::Number::New(env, count)});
      } catch (const Napi::Error& e) {
        napi_fatal_exception(env, e.Value());
        return;
      }
      if (env.IsExceptionPending()) return;
      if (count < maxFrames_) return;
    }
  }

  static void OnClose(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

  // pause()/resume(): stop and restart watching (the kernel keeps, then drops, what arrives
  // meanwhile: cheaper than reading frames there is no room to forward).
  Napi::Value Pause(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_poll_stop(poll_);
    return info.Env().Undefined();
  }

  Napi::Value Resume(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) uv_poll_start(poll_, UV_READABLE, &TapReader::OnReadable);
    return info.Env().Undefined();
  }

  // ioUring(): whether reads go through io_uring (batches) or one read() per frame.
  Napi::Value IoUring(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), ring_.IsOpen()); }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), &TapReader::OnClose);
      poll_ = nullptr;
      ring_.Close();
      Unref();
    }
    return info.Env().Undefined();
  }

  int fd_ = -1;
  Uring ring_;
  unsigned depth_ = 8;
  uint8_t* slots_ = nullptr;
  int32_t* lengths_ = nullptr;
  uint32_t slotBytes_ = 0;
  uint32_t maxFrames_ = 0;
  uv_poll_t* poll_ = nullptr;
  Napi::Reference<Napi::Uint8Array> slotsRef_;
  Napi::Reference<Napi::Int32Array> lengthsRef_;
  Napi::FunctionReference callback_;
};

// new TapWriter(slots, slotBytes, ports): a thread that writes frames to TAP descriptors, so the
// kernel's work of taking a frame in (which runs inside write(): the namespace's whole receive
// path) happens on another core than the dataplane. push(port, fd, bytes, start, end) copies the
// frame into a ring of `slots` slots (frames up to `slotBytes`) and returns false when the ring
// is full (the caller drops and counts); flush() after a batch of pushes wakes the thread (a
// half-full ring wakes it by itself). Frames of one port leave in the order pushed. stats(port)
// -> [written, bytes, failedFull, failedOther]: what the thread did with that port's frames
// (failedFull: the kernel's queue was full, EAGAIN/ENOBUFS; failedOther: any other error, such as
// EIO for an interface set down). close() stops the thread once the ring is drained.
class TapWriter : public Napi::ObjectWrap<TapWriter> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TapWriter",
                       {InstanceMethod("push", &TapWriter::Push), InstanceMethod("flush", &TapWriter::Flush),
                        InstanceMethod("queued", &TapWriter::Queued), InstanceMethod("stats", &TapWriter::Stats),
                        InstanceMethod("close", &TapWriter::Close), InstanceMethod("ioUring", &TapWriter::IoUring)});
  }

  explicit TapWriter(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TapWriter>(info) {
    Napi::Env env = info.Env();
    slots_ = info[0].As<Napi::Number>().Uint32Value();
    slotBytes_ = info[1].As<Napi::Number>().Uint32Value();
    uint32_t ports = info[2].As<Napi::Number>().Uint32Value();
    if (slots_ < 2 || slotBytes_ < 64 || ports == 0 || ports > 65536) {
      throw Napi::RangeError::New(env, "TapWriter(slots >= 2, slotBytes >= 64, 1 <= ports <= 65536)");
    }
    data_.resize(static_cast<size_t>(slots_) * slotBytes_);
    meta_.resize(slots_);
    stats_ = std::vector<PortStats>(ports);
    // VNET_NO_IO_URING=1: one write() per frame (to compare, or where io_uring misbehaves).
    // Opened here, used only by the thread.
    const char* off = getenv("VNET_NO_IO_URING");
    ioUring_.store(off != nullptr && strcmp(off, "1") == 0 ? false : ring_.Open(64));
    thread_ = std::thread([this] { Run(); });
  }

  ~TapWriter() override { Shutdown(); }

 private:
  struct Meta {
    int fd;
    uint32_t port;
    uint32_t len;
  };
  struct PortStats {
    std::atomic<double> written{0}, bytes{0}, failedFull{0}, failedOther{0};
  };

  Napi::Value Push(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t port = info[0].As<Napi::Number>().Uint32Value();
    int fd = info[1].As<Napi::Number>().Int32Value();
    Napi::Uint8Array bytes = info[2].As<Napi::Uint8Array>();
    size_t start = info[3].As<Napi::Number>().Uint32Value();
    size_t end = info[4].As<Napi::Number>().Uint32Value();
    if (end > bytes.ElementLength() || start > end || port >= stats_.size()) {
      throw Napi::RangeError::New(env, "TapWriter.push: range outside the buffer, or no such port");
    }
    size_t len = end - start;
    if (len > slotBytes_) throw Napi::RangeError::New(env, "TapWriter.push: frame larger than a slot");
    uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) >= slots_) return Napi::Boolean::New(env, false);
    uint32_t slot = static_cast<uint32_t>(head % slots_);
    memcpy(data_.data() + static_cast<size_t>(slot) * slotBytes_, bytes.Data() + start, len);
    meta_[slot] = Meta{fd, port, static_cast<uint32_t>(len)};
    head_.store(head + 1, std::memory_order_release);
    // A full ring wakes the thread at once; otherwise flush() does, once per batch.
    if (head + 1 - tail_.load(std::memory_order_acquire) >= slots_ / 2) Wake();
    return Napi::Boolean::New(env, true);
  }

  // queued(): frames in the ring not yet written.
  Napi::Value Queued(const Napi::CallbackInfo& info) {
    uint64_t n = head_.load(std::memory_order_relaxed) - tail_.load(std::memory_order_acquire);
    return Napi::Number::New(info.Env(), static_cast<double>(n));
  }

  // flush(): wakes the thread if it sleeps with frames waiting (one wake-up per batch of pushes).
  Napi::Value Flush(const Napi::CallbackInfo& info) {
    Wake();
    return info.Env().Undefined();
  }

  void Wake() {
    if (sleeping_.load(std::memory_order_acquire) &&
        head_.load(std::memory_order_relaxed) != tail_.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> lock(mutex_);
      wake_.notify_one();
    }
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t port = info[0].As<Napi::Number>().Uint32Value();
    if (port >= stats_.size()) throw Napi::RangeError::New(env, "TapWriter.stats: no such port");
    PortStats& s = stats_[port];
    Napi::Array out = Napi::Array::New(env, 4);
    out.Set(0u, Napi::Number::New(env, s.written.load()));
    out.Set(1u, Napi::Number::New(env, s.bytes.load()));
    out.Set(2u, Napi::Number::New(env, s.failedFull.load()));
    out.Set(3u, Napi::Number::New(env, s.failedOther.load()));
    return out;
  }

  // ioUring(): whether the thread writes through io_uring (batches) or one write() per frame.
  Napi::Value IoUring(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), ioUring_.load()); }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  void Shutdown() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
      wake_.notify_one();
    }
    thread_.join();
  }

  static void Add(std::atomic<double>& a, double v) {
    double cur = a.load(std::memory_order_relaxed);
    while (!a.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
    }
  }

  void Run() {
    Uring& ring = ring_;
    for (;;) {
      uint64_t tail = tail_.load(std::memory_order_relaxed);
      uint64_t head = head_.load(std::memory_order_acquire);
      if (tail == head) {
        std::unique_lock<std::mutex> lock(mutex_);
        sleeping_.store(true, std::memory_order_release);
        // Re-check after announcing sleep: a push in between has seen sleeping_ = false.
        wake_.wait(lock, [&] { return stopping_ || head_.load(std::memory_order_acquire) != tail; });
        sleeping_.store(false, std::memory_order_release);
        if (head_.load(std::memory_order_acquire) == tail && stopping_) return;
        continue;
      }
      while (tail != head) {
        if (ring.IsOpen()) {
          tail = WriteBatch(ring, tail, head);
        } else {
          uint32_t slot = static_cast<uint32_t>(tail % slots_);
          const Meta m = meta_[slot];
          ssize_t n = write(m.fd, data_.data() + static_cast<size_t>(slot) * slotBytes_, m.len);
          Account(m.port, n < 0 ? -errno : static_cast<int>(n));
          tail++;
        }
        tail_.store(tail, std::memory_order_release);
      }
    }
  }

  void Account(uint32_t port, int res) {
    PortStats& s = stats_[port];
    if (res >= 0) {
      Add(s.written, 1);
      Add(s.bytes, static_cast<double>(res));
    } else if (res == -EAGAIN || res == -ENOBUFS) {
      Add(s.failedFull, 1);
    } else {
      Add(s.failedOther, 1);
    }
  }

  // Writes up to a ring's worth of frames from `tail` with one io_uring_enter. A TAP opened
  // non-blocking never waits inside a write, so the kernel runs each write inline, in the order
  // queued (frames of one port keep their order) and nothing goes to a kernel worker thread.
  // Returns the new tail. If the ring fails, it is closed and the frames go out by write().
  uint64_t WriteBatch(Uring& ring, uint64_t tail, uint64_t head) {
    unsigned n = static_cast<unsigned>(std::min<uint64_t>(head - tail, ring.Capacity()));
    for (unsigned i = 0; i < n; i++) {
      uint32_t slot = static_cast<uint32_t>((tail + i) % slots_);
      const Meta& m = meta_[slot];
      ring.Prep(IORING_OP_WRITE, m.fd, data_.data() + static_cast<size_t>(slot) * slotBytes_, m.len, slot);
    }
    unsigned done = 0;
    bool unsupported = false;
    auto reap = [&](uint64_t slot, int res) {
      const Meta& m = meta_[slot];
      if (res == -EOPNOTSUPP) {
        // This kernel cannot write the TAP without waiting through io_uring: write() it, and
        // every frame after it.
        unsupported = true;
        ssize_t w = write(m.fd, data_.data() + static_cast<size_t>(slot) * slotBytes_, m.len);
        res = w < 0 ? -errno : static_cast<int>(w);
      }
      Account(m.port, res);
      done++;
    };
    while (done < n) {
      int rc = ring.Submit(n - done);
      if (rc < 0) {
        // The ring refused (out of kernel memory, say): what it completed is counted; the rest
        // go out by write(), in order, and the ring is not used again.
        ring.Reap(reap);
        ring.Close();
        ioUring_.store(false);
        return tail + done;
      }
      ring.Reap(reap);
    }
    if (unsupported) {
      ring.Close();
      ioUring_.store(false);
    }
    return tail + n;
  }

  uint32_t slots_ = 0;
  uint32_t slotBytes_ = 0;
  std::vector<uint8_t> data_;
  std::vector<Meta> meta_;
  std::vector<PortStats> stats_;
  std::atomic<uint64_t> head_{0};
  std::atomic<uint64_t> tail_{0};
  std::atomic<bool> sleeping_{false};
  std::atomic<bool> ioUring_{false};
  Uring ring_;
  bool stopping_ = false;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

void InitTap(Napi::Env env, Napi::Object exports) {
  exports.Set("TapWriter", TapWriter::Define(env));
  exports.Set("tapOpen", Napi::Function::New(env, TapOpen));
  exports.Set("tapWrite", Napi::Function::New(env, TapWrite));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("TapReader", TapReader::Define(env));
}

}  // namespace vnet
