#pragma once
// Runs nftables scripts through libnftables, in the caller's network namespace. Used for the
// small protection table wg-quick(8) installs alongside a full-tunnel (0.0.0.0/0) route.

#include <string>
#include <string_view>

#include "common/result.h"

namespace waypost::platform {

// Runs a script in nft(8) syntax ("add table ip t\n..."); the script is one transaction, so it
// applies completely or not at all. On failure the Status carries nft's own error text. When
// output is given it receives what the commands print (e.g. for "list table ...").
Status nft_run(std::string_view script, std::string* output = nullptr);

}  // namespace waypost::platform
