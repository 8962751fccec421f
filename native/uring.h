// A minimal io_uring (the kernel's shared-ring I/O interface) for vnet's TAP I/O: one
// io_uring_enter submits a whole batch of reads or writes, where read()/write() cost a system
// call per frame (on the virtual machines vnet is measured on, a system call costs about 1.2 us,
// more than the frame's own work). Raw system calls on <linux/io_uring.h>, no liburing, so it
// builds wherever the kernel headers are. Used by one thread at a time; open() fails cleanly
// (io_uring missing, or disabled by kernel.io_uring_disabled) and the caller falls back.
#pragma once
#include <errno.h>
#include <linux/io_uring.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace vnet {

class Uring {
 public:
  Uring() = default;
  Uring(const Uring&) = delete;
  Uring& operator=(const Uring&) = delete;
  ~Uring() { Close(); }

  // Sets up a ring of `entries` submissions; false (errno set) when the kernel refuses.
  bool Open(unsigned entries) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    int fd = static_cast<int>(syscall(__NR_io_uring_setup, entries, &p));
    if (fd < 0) return false;
    sqBytes_ = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    cqBytes_ = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    sqesBytes_ = p.sq_entries * sizeof(struct io_uring_sqe);
    sq_ = mmap(nullptr, sqBytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    cq_ = mmap(nullptr, cqBytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
    void* sqes = mmap(nullptr, sqesBytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (sq_ == MAP_FAILED || cq_ == MAP_FAILED || sqes == MAP_FAILED) {
      int err = errno;
      if (sq_ != MAP_FAILED) munmap(sq_, sqBytes_);
      if (cq_ != MAP_FAILED) munmap(cq_, cqBytes_);
      if (sqes != MAP_FAILED) munmap(sqes, sqesBytes_);
      sq_ = cq_ = nullptr;
      close(fd);
      errno = err;
      return false;
    }
    auto* sq = static_cast<uint8_t*>(sq_);
    auto* cq = static_cast<uint8_t*>(cq_);
    sqHead_ = reinterpret_cast<unsigned*>(sq + p.sq_off.head);
    sqTail_ = reinterpret_cast<unsigned*>(sq + p.sq_off.tail);
    sqMask_ = *reinterpret_cast<unsigned*>(sq + p.sq_off.ring_mask);
    sqArray_ = reinterpret_cast<unsigned*>(sq + p.sq_off.array);
    cqHead_ = reinterpret_cast<unsigned*>(cq + p.cq_off.head);
    cqTail_ = reinterpret_cast<unsigned*>(cq + p.cq_off.tail);
    cqMask_ = *reinterpret_cast<unsigned*>(cq + p.cq_off.ring_mask);
    cqes_ = reinterpret_cast<struct io_uring_cqe*>(cq + p.cq_off.cqes);
    sqes_ = static_cast<struct io_uring_sqe*>(sqes);
    sqEntries_ = p.sq_entries;
    fd_ = fd;
    return true;
  }

  bool IsOpen() const { return fd_ >= 0; }
  int Fd() const { return fd_; }
  unsigned Capacity() const { return sqEntries_; }

  // Queues a read or write of `len` bytes at `buf` on `fd` (no offset: a character device),
  // with RWF_NOWAIT: where it would wait (an empty queue to read, a full one to write) it
  // completes at once with -EAGAIN, instead of the kernel keeping it pending until it can run
  // (io_uring does that even on an O_NONBLOCK descriptor). A kernel that cannot honour
  // RWF_NOWAIT for the file completes it with -EOPNOTSUPP.
  void Prep(uint8_t opcode, int fd, void* buf, unsigned len, uint64_t userData) {
    unsigned tail = localTail_;
    unsigned idx = tail & sqMask_;
    struct io_uring_sqe* sqe = &sqes_[idx];
    memset(sqe, 0, sizeof *sqe);
    sqe->opcode = opcode;
    sqe->fd = fd;
    sqe->addr = reinterpret_cast<uint64_t>(buf);
    sqe->len = len;
    sqe->off = static_cast<uint64_t>(-1);
    sqe->user_data = userData;
    sqe->rw_flags = RWF_NOWAIT;
    sqArray_[idx] = idx;
    localTail_ = tail + 1;
    pending_++;
  }

  // Submits what was prepared and waits for `waitFor` completions: one system call. Returns the
  // number submitted, or -errno. Operations prepared with RWF_NOWAIT complete during the call.
  int Submit(unsigned waitFor) {
    __atomic_store_n(sqTail_, localTail_, __ATOMIC_RELEASE);
    unsigned n = pending_;
    int rc;
    do {
      rc = static_cast<int>(
          syscall(__NR_io_uring_enter, fd_, n, waitFor, waitFor > 0 ? IORING_ENTER_GETEVENTS : 0, nullptr, 0));
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) return -errno;
    pending_ -= static_cast<unsigned>(rc);
    return rc;
  }

  // Calls fn(userData, result) for every completion ready, and returns how many there were.
  template <typename F>
  unsigned Reap(F&& fn) {
    unsigned head = *cqHead_;
    unsigned tail = __atomic_load_n(cqTail_, __ATOMIC_ACQUIRE);
    unsigned n = 0;
    for (; head != tail; head++, n++) {
      const struct io_uring_cqe& c = cqes_[head & cqMask_];
      fn(c.user_data, c.res);
    }
    __atomic_store_n(cqHead_, head, __ATOMIC_RELEASE);
    return n;
  }

  // Room for this many more submissions before Submit.
  unsigned Room() const { return sqEntries_ - (localTail_ - __atomic_load_n(sqHead_, __ATOMIC_ACQUIRE)); }

  void Close() {
    if (fd_ < 0) return;
    munmap(sq_, sqBytes_);
    munmap(cq_, cqBytes_);
    munmap(sqes_, sqesBytes_);
    close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  void* sq_ = nullptr;
  void* cq_ = nullptr;
  size_t sqBytes_ = 0, cqBytes_ = 0, sqesBytes_ = 0;
  unsigned* sqHead_ = nullptr;
  unsigned* sqTail_ = nullptr;
  unsigned sqMask_ = 0;
  unsigned* sqArray_ = nullptr;
  unsigned* cqHead_ = nullptr;
  unsigned* cqTail_ = nullptr;
  unsigned cqMask_ = 0;
  struct io_uring_cqe* cqes_ = nullptr;
  struct io_uring_sqe* sqes_ = nullptr;
  unsigned sqEntries_ = 0;
  unsigned localTail_ = 0;
  unsigned pending_ = 0;
};

}  // namespace vnet
