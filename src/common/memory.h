#pragma once
// Memory that stays small while the daemon is idle: the daemon's resident size is what people
// on a 512 MB VM see, so buffers are mapped but not touched until traffic needs them, and code
// pages read in during start-up are handed back once start-up is over.

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <utility>

namespace waypost {

// A zero-filled anonymous mapping; pages become resident only when first written.
class PageBuffer {
 public:
  PageBuffer() = default;
  explicit PageBuffer(size_t size);
  PageBuffer(PageBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  PageBuffer& operator=(PageBuffer&& o) noexcept {
    if (this != &o) {
      release();
      data_ = std::exchange(o.data_, nullptr);
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  ~PageBuffer() { release(); }

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Drops clean, read-only file-backed pages (code and constants of the binary and its libraries)
// from this process's page tables and asks the kernel not to map neighbouring pages on later
// faults. Pages still needed come back on first use from the page cache. Writable or modified
// mappings (data, relocations) are never touched. Returns the number of bytes released.
size_t trim_resident_code();

// Resident set size of this process in bytes (from /proc/self/statm).
size_t resident_bytes();

}  // namespace waypost
