#pragma once
// The container of a backup: a tar archive compressed with zstd, through libarchive (no
// hand-written tar or zstd code). Only regular files are written or accepted.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace waypost::server {

struct ArchiveMember {
  std::string name;
  uint32_t mode = 0600;
  std::string data;
};

Result<std::string> write_tar_zst(const std::vector<ArchiveMember>& members);

// Calls `on_member` for each member in order, stopping at its first error. Refuses anything
// that is not a regular file, and stops once more than `max_bytes` have been unpacked in all.
Status read_tar_zst(std::span<const uint8_t> archive, uint64_t max_bytes,
                    const std::function<Status(const ArchiveMember&)>& on_member);

}  // namespace waypost::server
