#pragma once
// Crash-safe file replacement: write a temporary file in the same directory, fsync it, rename it
// over the target, fsync the directory. Readers see the old or the new content, never a mix,
// whatever happens in between. Files are created with `mode` from the start (0600 for secrets).

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace waypost {

Status write_file_atomic(const std::string& path, std::string_view content, mode_t mode);
Result<std::string> read_file(const std::string& path, size_t max_bytes = 16u << 20);

// Test hook: called after the temporary file is written and synced, before the rename. Tests use
// it to simulate a crash at the worst moment (by throwing or _exit in a forked child).
void set_atomic_write_hook(std::function<void(const std::string& path)> hook);

// Refuses secret files that group or others can read, with a message that says how to fix it.
Status check_private_file(const std::string& path);

}  // namespace waypost
