#include "common/memory.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace waypost {

PageBuffer::PageBuffer(size_t size) : size_(size) {
  if (size == 0) return;
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::bad_alloc();  // start-up only; never on the data path
  data_ = static_cast<uint8_t*>(p);
}

void PageBuffer::release() {
  if (data_ != nullptr) ::munmap(data_, size_);
  data_ = nullptr;
  size_ = 0;
}

size_t trim_resident_code() {
  // Heap freed after start-up (parsed configs, netlink buffers) goes back to the system too.
  malloc_trim(0);
  FILE* f = std::fopen("/proc/self/smaps", "re");
  if (f == nullptr) return 0;
  char line[512];
  uintptr_t start = 0, end = 0;
  char perms[5] = {};
  bool file_backed = false;
  size_t private_dirty = 0, anon = 0;
  size_t released = 0;
  auto finish = [&]() {
    // Only read-only, file-backed, never-modified mappings: dropping their pages loses nothing.
    if (start != 0 && file_backed && perms[1] != 'w' && private_dirty == 0 && anon == 0 &&
        perms[0] == 'r') {
      ::madvise(reinterpret_cast<void*>(start), end - start, MADV_RANDOM);
      if (::madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED) == 0) {
        released += end - start;
      }
    }
  };
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    unsigned long s = 0, e = 0;
    char p[5] = {}, path[256] = {};
    unsigned long long offset = 0;
    char dev[16] = {};
    unsigned long inode = 0;
    int n =
        std::sscanf(line, "%lx-%lx %4s %llx %15s %lu %255s", &s, &e, p, &offset, dev, &inode, path);
    if (n >= 6 && std::strchr(line, '-') != nullptr && line[0] != ' ' &&
        std::strncmp(line, "Private", 7) != 0) {
      finish();
      start = s;
      end = e;
      std::memcpy(perms, p, 4);
      file_backed = n == 7 && inode != 0 && path[0] == '/';
      private_dirty = anon = 0;
      continue;
    }
    unsigned long kb = 0;
    if (std::sscanf(line, "Private_Dirty: %lu kB", &kb) == 1) private_dirty = kb;
    if (std::sscanf(line, "Anonymous: %lu kB", &kb) == 1) anon = kb;
  }
  finish();
  std::fclose(f);
  return released;
}

size_t resident_bytes() {
  FILE* f = std::fopen("/proc/self/statm", "re");
  if (f == nullptr) return 0;
  unsigned long size = 0, resident = 0;
  int n = std::fscanf(f, "%lu %lu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * size_t(sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace waypost
