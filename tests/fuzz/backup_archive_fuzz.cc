// Fuzzes the backup reader (server/backup.h): `waypost server restore` opens archives that were
// copied around, cut short or made by someone else, so any bytes must give a verified backup or
// an error, never a crash, a hang or a path outside the server directory.
// Invariants: every file of an accepted backup has a safe relative path, and writing it again
// gives an archive that reads back to the same files.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "server/backup.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "backup_archive_fuzz: %s\n%s\n", what, detail.substr(0, 600).c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace waypost::server;  // NOLINT
  auto backup = read_backup_archive({data, size});
  if (!backup) {
    if (backup.error().message.empty()) fail("empty error message", "");
    return 0;
  }
  for (const BackupFile& f : backup->files) {
    if (!safe_relative_path(f.path)) fail("unsafe path accepted", f.path);
  }
  auto again = write_backup_archive(*backup);
  if (!again) fail("an accepted backup does not write", again.error().message);
  auto back = read_backup_archive({reinterpret_cast<const uint8_t*>(again->data()), again->size()});
  if (!back) fail("a written backup does not read back", back.error().message);
  if (back->files.size() != backup->files.size()) fail("files lost across write and read", "");
  for (size_t i = 0; i < back->files.size(); ++i) {
    if (back->files[i].path != backup->files[i].path ||
        back->files[i].data != backup->files[i].data) {
      fail("a file changed across write and read", backup->files[i].path);
    }
  }
  return 0;
}
