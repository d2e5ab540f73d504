#include "server/backup_archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <ctime>
#include <memory>

namespace waypost::server {

namespace {

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};

std::string why(archive* a) {
  const char* s = archive_error_string(a);
  return s != nullptr ? s : "unknown error";
}

la_ssize_t append(archive* /*a*/, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return la_ssize_t(n);
}

}  // namespace

Result<std::string> write_tar_zst(const std::vector<ArchiveMember>& members) {
  ArchivePtr a(archive_write_new());
  if (!a) return make_error(ErrorKind::kIo, "libarchive: out of memory");
  std::string out;
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_add_filter_zstd(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK ||
      archive_write_open(a.get(), &out, nullptr, append, nullptr) != ARCHIVE_OK) {
    return make_error(ErrorKind::kIo, "cannot start the archive: {}", why(a.get()));
  }
  const time_t now = std::time(nullptr);
  for (const ArchiveMember& m : members) {
    std::unique_ptr<archive_entry, EntryDeleter> e(archive_entry_new());
    archive_entry_set_pathname(e.get(), m.name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), m.mode & 0777);
    archive_entry_set_size(e.get(), la_int64_t(m.data.size()));
    archive_entry_set_mtime(e.get(), now, 0);
    if (archive_write_header(a.get(), e.get()) != ARCHIVE_OK ||
        archive_write_data(a.get(), m.data.data(), m.data.size()) != la_ssize_t(m.data.size())) {
      return make_error(ErrorKind::kIo, "cannot add {} to the archive: {}", m.name, why(a.get()));
    }
  }
  if (archive_write_close(a.get()) != ARCHIVE_OK) {
    return make_error(ErrorKind::kIo, "cannot finish the archive: {}", why(a.get()));
  }
  return out;
}

Status read_tar_zst(std::span<const uint8_t> archive_bytes, uint64_t max_bytes,
                    const std::function<Status(const ArchiveMember&)>& on_member) {
  ArchivePtr a(archive_read_new());
  if (!a) return make_error(ErrorKind::kIo, "libarchive: out of memory");
  // tar only, compressed with zstd or not at all: nothing else is a Waypost backup.
  archive_read_support_format_tar(a.get());
  archive_read_support_filter_zstd(a.get());
  archive_read_support_filter_none(a.get());
  if (archive_read_open_memory(a.get(), archive_bytes.data(), archive_bytes.size()) != ARCHIVE_OK) {
    return make_error(ErrorKind::kParse, "not a tar.zst archive: {}", why(a.get()));
  }
  uint64_t total = 0;
  for (;;) {
    archive_entry* e = nullptr;
    const int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) {
      return make_error(ErrorKind::kParse, "corrupt or truncated archive: {}", why(a.get()));
    }
    const char* name = archive_entry_pathname(e);
    ArchiveMember m;
    m.name = name != nullptr ? name : "";
    if (archive_entry_filetype(e) != AE_IFREG) {
      return make_error(ErrorKind::kParse,
                        "'{}' is not a regular file (links and devices are "
                        "never part of a backup)",
                        m.name);
    }
    m.mode = uint32_t(archive_entry_perm(e)) & 0777;
    const la_int64_t size = archive_entry_size(e);
    if (size < 0 || uint64_t(size) > max_bytes - total) {
      return make_error(ErrorKind::kParse, "'{}' is too large ({} bytes): refused", m.name,
                        int64_t(size));
    }
    m.data.resize(size_t(size));
    size_t done = 0;
    while (done < m.data.size()) {
      const la_ssize_t n = archive_read_data(a.get(), m.data.data() + done, m.data.size() - done);
      if (n < 0) {
        return make_error(ErrorKind::kParse, "corrupt or truncated archive at '{}': {}", m.name,
                          why(a.get()));
      }
      if (n == 0) {
        return make_error(ErrorKind::kParse, "truncated archive: '{}' ends early", m.name);
      }
      done += size_t(n);
    }
    total += m.data.size();
    if (auto st = on_member(m); !st) return st;
  }
  return {};
}

}  // namespace waypost::server
