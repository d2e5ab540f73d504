#include "daemon/paths.h"

#include <algorithm>
#include <filesystem>

namespace waypost::daemon {

std::vector<std::string> running_interfaces() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(control_dir(), ec)) {
    if (e.path().extension() == ".sock") out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace waypost::daemon
