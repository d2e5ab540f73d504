#include "common/result.h"

#include <cerrno>

namespace waypost {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kOther:
      return "error";
    case ErrorKind::kNotFound:
      return "not found";
    case ErrorKind::kPermission:
      return "permission";
    case ErrorKind::kParse:
      return "parse";
    case ErrorKind::kIo:
      return "I/O";
    case ErrorKind::kProtocol:
      return "protocol";
  }
  return "error";
}

ErrorKind error_kind_from_errno(int err) {
  switch (err) {
    case ENOENT:
    case ENODEV:
    case ENXIO:
    case ESRCH:
      return ErrorKind::kNotFound;
    case EACCES:
    case EPERM:
      return ErrorKind::kPermission;
    case EPROTO:
    case EBADMSG:
      return ErrorKind::kProtocol;
    default:
      return ErrorKind::kIo;
  }
}

}  // namespace waypost
