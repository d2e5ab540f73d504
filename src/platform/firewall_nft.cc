#include "platform/firewall_nft.h"

#include <nftables/libnftables.h>

#include <memory>

namespace waypost::platform {

namespace {

struct ContextDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};

// nft's errors are multi-line (message, the offending line, a caret marker); one line reads
// better in logs and status replies.
std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      if (!out.empty() && out.back() != ' ') out += "; ";
    } else {
      out += c;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
}

}  // namespace

Status nft_run(std::string_view script, std::string* output) {
  std::unique_ptr<nft_ctx, ContextDeleter> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return make_error("nftables: cannot create a context");
  // Buffer both streams: libnftables would otherwise print straight to our stdout/stderr.
  if (nft_ctx_buffer_output(ctx.get()) != 0 || nft_ctx_buffer_error(ctx.get()) != 0) {
    return make_error("nftables: cannot buffer output");
  }
  std::string buffer(script);  // libnftables wants a NUL-terminated string
  int rc = nft_run_cmd_from_buffer(ctx.get(), buffer.c_str());
  if (rc != 0) {
    const char* err = nft_ctx_get_error_buffer(ctx.get());
    std::string text = err != nullptr ? one_line(err) : std::string();
    if (text.empty()) text = "command failed";
    return make_error("nftables: {}", text);
  }
  if (output != nullptr) {
    const char* out = nft_ctx_get_output_buffer(ctx.get());
    *output = out != nullptr ? out : "";
  }
  return {};
}

}  // namespace waypost::platform
