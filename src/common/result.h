#pragma once
// Errors as values. Parsers and the data plane never throw: they return Result<T>, whose error
// carries a human-readable message meant to be shown to the user as is ("line 4: key 'MTU': ...").

#include <fmt/format.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace waypost {

// What kind of failure an error is, so that a caller can react to it (a missing config file gets
// "run init first", an unreadable one "run as root") without matching message text.
enum class ErrorKind : uint8_t {
  kOther,       // none of the below (the default)
  kNotFound,    // a file, interface, peer or user that does not exist
  kPermission,  // the operating system said no (EACCES, EPERM) or a file's mode is unsafe
  kParse,       // input (a config file, a command, a message) is malformed or invalid
  kIo,          // a system call or device failed for another reason
  kProtocol,    // a peer or daemon broke the protocol or answered with an error
};

std::string_view to_string(ErrorKind kind);

struct Error {
  std::string message;
  int code = 0;  // optional errno-style code for protocols that report one (UAPI)
  ErrorKind kind = ErrorKind::kOther;

  bool is(ErrorKind k) const { return kind == k; }
  // The same error with context in front of its message ("config.yaml: line 3: ...").
  Error context(std::string_view prefix) const& {
    return Error{fmt::format("{}: {}", prefix, message), code, kind};
  }
  Error context(std::string_view prefix) && {
    message = fmt::format("{}: {}", prefix, message);
    return std::move(*this);
  }
};

// The kind a failed system call's errno means.
ErrorKind error_kind_from_errno(int err);

template <typename... Args>
Error make_error(fmt::format_string<Args...> format, Args&&... args) {
  return Error{fmt::format(format, std::forward<Args>(args)...)};
}

template <typename... Args>
Error make_error(ErrorKind kind, fmt::format_string<Args...> format, Args&&... args) {
  return Error{fmt::format(format, std::forward<Args>(args)...), 0, kind};
}

// An error from a failed system call: the kind follows errno, the code is errno itself.
template <typename... Args>
Error make_errno_error(int err, fmt::format_string<Args...> format, Args&&... args) {
  return Error{fmt::format(format, std::forward<Args>(args)...), err, error_kind_from_errno(err)};
}

template <typename T>
// NOLINTNEXTLINE(bugprone-exception-escape): the implicit moves are noexcept exactly when T's are
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &std::get<0>(v_); }
  const T* operator->() const { return &std::get<0>(v_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }
  Error take_error() { return std::move(std::get<1>(v_)); }
  // Gives an error that has no kind yet this one (a parser's entry point marks its errors kParse).
  Result&& or_kind(ErrorKind kind) && {
    if (!ok() && std::get<1>(v_).kind == ErrorKind::kOther) std::get<1>(v_).kind = kind;
    return std::move(*this);
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }
  Error take_error() { return std::move(error_); }
  Result&& or_kind(ErrorKind kind) && {
    if (!ok_ && error_.kind == ErrorKind::kOther) error_.kind = kind;
    return std::move(*this);
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace waypost
