#pragma once
// Per-user client profiles, in Algo's tree so its users find them where they expect:
//
//   <dir>/configs/<endpoint>/wireguard/<user>.conf                 wg-quick config
//   <dir>/configs/<endpoint>/wireguard/<user>.png                  QR code of that config
//   <dir>/configs/<endpoint>/wireguard/apple/ios/<user>.mobileconfig    WireGuard app profile
//   <dir>/configs/<endpoint>/wireguard/apple/macos/<user>.mobileconfig
//
// Every file holds the user's private key and is written 0600, atomically.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "server/config.h"
#include "server/state.h"

namespace waypost::server {

enum class AppleOs { kIos, kMacos };

// The user's wg-quick config: [Interface] PrivateKey, Address (v4, and v6 when enabled), DNS,
// MTU; [Peer] server PublicKey, PresharedKey, AllowedIPs 0.0.0.0/0, ::/0, Endpoint,
// PersistentKeepalive when configured.
std::string client_conf(const ServerConfig& config, const ServerState& state,
                        const std::string& user);

// An Apple configuration profile (plist XML) for the WireGuard app (VPNSubType
// com.wireguard.ios / com.wireguard.macos) with the conf above as WgQuickConfig and on-demand
// rules from ondemand_cellular, ondemand_wifi and ondemand_wifi_exclude.
std::string apple_mobileconfig(const ServerConfig& config, const ServerState& state,
                               const std::string& user, AppleOs os);

// QR code of `text` as a PNG image (black on white, quiet zone, scaled for phone cameras).
Result<std::vector<uint8_t>> qr_png(std::string_view text);
// The same symbol as an SVG image (one path of unit squares, 4 modules of quiet zone), for pages.
Result<std::string> qr_svg(std::string_view text);
// QR code of `text` for a terminal, two modules per character cell (Unicode half blocks).
Result<std::string> qr_terminal(std::string_view text);

// Whether Waypost can write the user's profile: not for a user imported without its private key
// (kNoPrivateKey says why, for messages).
bool has_client_profile(const UserState& user);
inline constexpr std::string_view kNoPrivateKey =
    "its private key is unknown (imported from a server config, which holds only public keys); "
    "the device keeps the profile it has";

std::string bundle_dir(const std::string& dir, const ServerConfig& config);
std::string conf_path(const std::string& dir, const ServerConfig& config, const std::string& user);
std::string png_path(const std::string& dir, const ServerConfig& config, const std::string& user);
std::string mobileconfig_path(const std::string& dir, const ServerConfig& config,
                              const std::string& user, AppleOs os);

// Writes (or rewrites) all four files of a user.
Status write_bundles(const std::string& dir, const ServerConfig& config, const ServerState& state,
                     const std::string& user);
// Removes a user's files.
void remove_bundles(const std::string& dir, const ServerConfig& config, const std::string& user);

}  // namespace waypost::server
