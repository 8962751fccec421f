// Batched UDP for vnet's real WireGuard endpoint (src/real/udp-socket.ts): Node's dgram makes a
// syscall, a request object and an address lookup per datagram sent, and a Buffer, an address
// object and an event per datagram received. Here a socket is a plain non-blocking descriptor;
// sends are gathered by the caller into one buffer and leave in one sendmmsg per batch, and a
// reader watches the descriptor on Node's own event loop (uv_poll, as TapReader does for a TAP)
// and fills the caller's slots with recvmmsg, one callback per batch. Addresses travel as
// numbers in an Int32Array beside the bytes: nothing is allocated per datagram on either side.
//
// Per-datagram metadata, 8 int32 each ("meta"): [0] offset (send) or length (receive), [1] length
// (send) or flags (receive: 1 = truncated), [2] family (4 or 6), [3] port, [4..8) the address as
// big-endian 32-bit words in host order (IPv4: word 4 only).
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <vector>

#include "addon.h"

namespace vnet {

static const int kMetaStride = 8;

static int FamilyArg(const Napi::CallbackInfo& info, size_t i) {
  int family = info[i].As<Napi::Number>().Int32Value();
  if (family != 4 && family != 6) throw Napi::RangeError::New(info.Env(), "family must be 4 or 6");
  return family;
}

// Fills `ss` from text ("127.0.0.1", "::1") and a port; returns the address length.
static socklen_t SockaddrFromText(Napi::Env env, int family, const std::string& text, int port,
                                  sockaddr_storage* ss) {
  memset(ss, 0, sizeof *ss);
  if (port < 0 || port > 65535) throw Napi::RangeError::New(env, "port outside 0..65535");
  if (family == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, text.c_str(), &sin->sin_addr) != 1) {
      throw Napi::TypeError::New(env, "not an IPv4 address: " + text);
    }
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET6, text.c_str(), &sin6->sin6_addr) != 1) {
    throw Napi::TypeError::New(env, "not an IPv6 address: " + text);
  }
  return sizeof(sockaddr_in6);
}

// Fills `ss` from meta words (see the header comment); returns the address length.
static socklen_t SockaddrFromMeta(const int32_t* m, sockaddr_storage* ss) {
  if (m[2] == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(m[3]));
    sin->sin_addr.s_addr = htonl(static_cast<uint32_t>(m[4]));
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(ss);
  memset(sin6, 0, sizeof *sin6);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(static_cast<uint16_t>(m[3]));
  for (int w = 0; w < 4; w++) {
    uint32_t be = htonl(static_cast<uint32_t>(m[4 + w]));
    memcpy(&sin6->sin6_addr.s6_addr[w * 4], &be, 4);
  }
  return sizeof(sockaddr_in6);
}

static void MetaFromSockaddr(const sockaddr_storage* ss, int32_t* m) {
  if (ss->ss_family == AF_INET) {
    auto* sin = reinterpret_cast<const sockaddr_in*>(ss);
    m[2] = 4;
    m[3] = ntohs(sin->sin_port);
    m[4] = static_cast<int32_t>(ntohl(sin->sin_addr.s_addr));
    m[5] = m[6] = m[7] = 0;
    return;
  }
  auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ss);
  m[2] = 6;
  m[3] = ntohs(sin6->sin6_port);
  for (int w = 0; w < 4; w++) {
    uint32_t be;
    memcpy(&be, &sin6->sin6_addr.s6_addr[w * 4], 4);
    m[4 + w] = static_cast<int32_t>(ntohl(be));
  }
}

// udpOpen(family, address, port, isReusable, recvBufferBytes) -> { fd, port }: a bound,
// non-blocking socket (IPv6-only for family 6); SO_REUSEADDR when isReusable (peer sockets
// share the listening port); recvBufferBytes > 0 asks for that receive buffer (Linux caps it).
static Napi::Value UdpOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int family = FamilyArg(info, 0);
  std::string address = info[1].As<Napi::String>();
  int port = info[2].As<Napi::Number>().Int32Value();
  bool isReusable = info[3].As<Napi::Boolean>().Value();
  int recvBufferBytes = info[4].As<Napi::Number>().Int32Value();
  sockaddr_storage ss;
  socklen_t len = SockaddrFromText(env, family, address, port, &ss);
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, "socket", errno);
  int one = 1;
  if (family == 6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "IPV6_V6ONLY", err);
  }
  if (isReusable && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "SO_REUSEADDR", err);
  }
  // Best effort, as dgram's setRecvBufferSize on Linux: the kernel caps it at rmem_max.
  if (recvBufferBytes > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &recvBufferBytes, sizeof recvBufferBytes);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) {
    int err = errno;
    close(fd);
    ThrowErrno(env, "bind " + address + ":" + std::to_string(port), err);
  }
  sockaddr_storage bound;
  socklen_t boundLen = sizeof bound;
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &boundLen);
  int boundPort = ntohs(bound.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                                   : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", Napi::Number::New(env, fd));
  out.Set("port", Napi::Number::New(env, boundPort));
  return out;
}

// udpConnect(fd, family, address, port): the kernel then prefers this socket for datagrams
// from exactly that address and port.
static Napi::Value UdpConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int family = FamilyArg(info, 1);
  std::string address = info[2].As<Napi::String>();
  int port = info[3].As<Napi::Number>().Int32Value();
  sockaddr_storage ss;
  socklen_t len = SockaddrFromText(env, family, address, port, &ss);
  if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0) ThrowErrno(env, "connect " + address, errno);
  return env.Undefined();
}

// udpRecvBufferSize(fd) -> the receive buffer the kernel granted (Linux reports double).
static Napi::Value UdpRecvBufferSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int v = 0;
  socklen_t len = sizeof v;
  if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, &len) < 0) ThrowErrno(env, "SO_RCVBUF", errno);
  return Napi::Number::New(env, v);
}

// udpSendBatch(fd, bytes, meta, count) -> datagrams not sent. Datagram i is bytes[meta[8i] ..
// meta[8i] + meta[8i+1]) to the address in its meta. One sendmmsg for the lot; a datagram the
// kernel refuses (a full send buffer, an unreachable destination reported earlier) is skipped
// and counted, the rest still go.
static Napi::Value UdpSendBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  Napi::Int32Array meta = info[2].As<Napi::Int32Array>();
  uint32_t count = info[3].As<Napi::Number>().Uint32Value();
  if (static_cast<size_t>(count) * kMetaStride > meta.ElementLength()) {
    throw Napi::RangeError::New(env, "udpSendBatch: count past the metadata");
  }
  static thread_local std::vector<mmsghdr> msgs;
  static thread_local std::vector<iovec> iovs;
  static thread_local std::vector<sockaddr_storage> names;
  if (msgs.size() < count) {
    msgs.resize(count);
    iovs.resize(count);
    names.resize(count);
  }
  const int32_t* m = meta.Data();
  for (uint32_t i = 0; i < count; i++, m += kMetaStride) {
    size_t off = static_cast<uint32_t>(m[0]);
    size_t len = static_cast<uint32_t>(m[1]);
    if (off + len > bytes.ElementLength()) throw Napi::RangeError::New(env, "udpSendBatch: datagram outside the buffer");
    iovs[i].iov_base = bytes.Data() + off;
    iovs[i].iov_len = len;
    memset(&msgs[i], 0, sizeof msgs[i]);
    msgs[i].msg_hdr.msg_iov = &iovs[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = &names[i];
    msgs[i].msg_hdr.msg_namelen = SockaddrFromMeta(m, &names[i]);
  }
  uint32_t failed = 0;
  uint32_t done = 0;
  while (done < count) {
    int n = sendmmsg(fd, msgs.data() + done, count - done, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      failed++;  // this datagram is refused; go on with the next
      done++;
      continue;
    }
    done += static_cast<uint32_t>(n);
  }
  return Napi::Number::New(env, failed);
}

// new UdpReader(fd, slots, slotBytes, meta, onDatagrams(count)): reads every queued datagram
// into consecutive slots (meta as in the header comment) and calls onDatagrams(count) once per
// batch; onDatagrams(-errno) reports an error the socket returned instead (a connected socket's
// ICMP "port unreachable", say). stop() ends the watch; the descriptor stays open. Readers of
// one endpoint may share slots and meta: callbacks never run inside one another.
class UdpReader : public Napi::ObjectWrap<UdpReader> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "UdpReader", {InstanceMethod("stop", &UdpReader::Stop)});
  }

  explicit UdpReader(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpReader>(info) {
    Napi::Env env = info.Env();
    fd_ = info[0].As<Napi::Number>().Int32Value();
    Napi::Uint8Array slots = info[1].As<Napi::Uint8Array>();
    slotBytes_ = info[2].As<Napi::Number>().Uint32Value();
    Napi::Int32Array meta = info[3].As<Napi::Int32Array>();
    maxDatagrams_ = static_cast<uint32_t>(meta.ElementLength() / kMetaStride);
    if (slotBytes_ == 0 || maxDatagrams_ == 0 ||
        slots.ElementLength() < static_cast<size_t>(slotBytes_) * maxDatagrams_) {
      throw Napi::RangeError::New(env, "UdpReader: slots buffer smaller than slotBytes x datagrams");
    }
    slots_ = slots.Data();
    meta_ = meta.Data();
    slotsRef_ = Napi::Persistent(slots);
    metaRef_ = Napi::Persistent(meta);
    callback_ = Napi::Persistent(info[4].As<Napi::Function>());
    msgs_.resize(maxDatagrams_);
    iovs_.resize(maxDatagrams_);
    names_.resize(maxDatagrams_);
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poll_ = new uv_poll_t;
    poll_->data = this;
    int rc = uv_poll_init(loop, poll_, fd_);
    if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE, &UdpReader::OnReadable);
    if (rc != 0) {
      delete poll_;
      poll_ = nullptr;
      throw Napi::Error::New(env, std::string("UdpReader: ") + uv_strerror(rc));
    }
    Ref();  // kept alive while polling
  }

 private:
  static void OnReadable(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<UdpReader*>(handle->data);
    if (self->poll_ == nullptr) return;
    self->Drain();
    // A pending socket error (a connected socket's ICMP "port unreachable") shows as POLLERR,
    // on which libuv stops the watch and reports a negative status. Drain read the error (and
    // reported it); watch again, or the socket would never be read after its peer's first ICMP.
    if (status < 0 && self->poll_ != nullptr) uv_poll_start(self->poll_, UV_READABLE, &UdpReader::OnReadable);
  }

  void Drain() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    // A few batches per wake-up at most, so one busy socket cannot starve the rest of the loop
    // (the other sockets, timers, the handshake queue's turn).
    for (int batch = 0; batch < 4 && poll_ != nullptr; batch++) {
      for (uint32_t i = 0; i < maxDatagrams_; i++) {
        iovs_[i].iov_base = slots_ + static_cast<size_t>(i) * slotBytes_;
        iovs_[i].iov_len = slotBytes_;
        memset(&msgs_[i], 0, sizeof msgs_[i]);
        msgs_[i].msg_hdr.msg_iov = &iovs_[i];
        msgs_[i].msg_hdr.msg_iovlen = 1;
        msgs_[i].msg_hdr.msg_name = &names_[i];
        msgs_[i].msg_hdr.msg_namelen = sizeof names_[i];
      }
      int n = recvmmsg(fd_, msgs_.data(), maxDatagrams_, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) return;
        Deliver(env, -err);
        return;
      }
      if (n == 0) return;
      for (int i = 0; i < n; i++) {
        int32_t* m = meta_ + static_cast<size_t>(i) * kMetaStride;
        m[0] = static_cast<int32_t>(msgs_[i].msg_len);
        m[1] = (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
        MetaFromSockaddr(&names_[i], m);
      }
      if (!Deliver(env, n)) return;
      if (static_cast<uint32_t>(n) < maxDatagrams_) return;
    }
  }

  // Calls onDatagrams(value). This runs from libuv, with no JavaScript below it: an exception
  // the callback throws must not unwind into libuv's C frames (that aborts the process), so it
  // goes to Node as an uncaught exception, as one from any other event callback would.
  bool Deliver(Napi::Env env, int value) {
    try {
      callback_.MakeCallback(env.Global(), {Napi::Number::New(env, value)});
    } catch (const Napi::Error& e) {
      napi_fatal_exception(env, e.Value());
      return false;
    }
    return !env.IsExceptionPending();
  }

  static void OnClose(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), &UdpReader::OnClose);
      poll_ = nullptr;
      Unref();
    }
    return info.Env().Undefined();
  }

  int fd_ = -1;
  uint8_t* slots_ = nullptr;
  int32_t* meta_ = nullptr;
  uint32_t slotBytes_ = 0;
  uint32_t maxDatagrams_ = 0;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<sockaddr_storage> names_;
  uv_poll_t* poll_ = nullptr;
  Napi::Reference<Napi::Uint8Array> slotsRef_;
  Napi::Reference<Napi::Int32Array> metaRef_;
  Napi::FunctionReference callback_;
};

void InitUdp(Napi::Env env, Napi::Object exports) {
  exports.Set("udpOpen", Napi::Function::New(env, UdpOpen));
  exports.Set("udpConnect", Napi::Function::New(env, UdpConnect));
  exports.Set("udpRecvBufferSize", Napi::Function::New(env, UdpRecvBufferSize));
  exports.Set("udpSendBatch", Napi::Function::New(env, UdpSendBatch));
  exports.Set("UdpReader", UdpReader::Define(env));
}

}  // namespace vnet
