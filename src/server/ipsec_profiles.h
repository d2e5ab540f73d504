#pragma once
// A user's IKEv2 client files, in the tree Algo VPN writes (and what Algo dropped that users still
// ask for):
//
//   <dir>/configs/<endpoint>/ipsec/manual/cacert.pem         the CA (all users)
//   <dir>/configs/<endpoint>/ipsec/manual/<user>.p12         certificate + key + CA, PKCS#12
//   <dir>/configs/<endpoint>/ipsec/manual/<user>.conf        strongSwan ipsec.conf client section
//   <dir>/configs/<endpoint>/ipsec/manual/<user>.secrets     its ipsec.secrets line
//   <dir>/configs/<endpoint>/ipsec/apple/<user>.mobileconfig IKEv2 VPN + PKCS#12 + CA payloads
//   <dir>/configs/<endpoint>/ipsec/swanctl/<user>.conf       swanctl.conf for Linux (loads the
//   .p12) <dir>/configs/<endpoint>/ipsec/android/<user>.sswan      strongSwan Android app profile
//   <dir>/configs/<endpoint>/ipsec/windows/<user>.ps1        Add-VpnConnection + certificate import
//
// The text of each file is a pure function of IpsecProfile, so tests check them field by field.

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace waypost::server {

// Everything a user's IKEv2 files say. The proposals are Algo's (IKE aes256gcm16-prfsha512-ecp384,
// ESP aes256gcm16-ecp384; on Apple: AES-256-GCM, SHA2-512, DH group 20, 1440 minutes).
struct IpsecProfile {
  std::string endpoint;      // host name or IP address the client connects to (the server's IKE id)
  std::string user;          // user name (the certificate's CN)
  std::string user_id;       // the user's IKE identity: the certificate's e-mail SAN
                             // ("phone@<random id>.algo")
  std::string ca_cert_pem;   // the CA certificate, PEM
  std::string ca_name;       // the CA's common name (Apple: ServerCertificateIssuerCommonName)
  std::vector<uint8_t> p12;  // the user's PKCS#12 (certificate, key, CA)
  std::string p12_password;
  // On-demand rules for Apple, from the same config.yaml keys as the WireGuard profile.
  bool ondemand_cellular = false;
  bool ondemand_wifi = false;
  std::vector<std::string> ondemand_wifi_exclude;
  // Stable UUIDs come from this seed (the endpoint and user), so rewriting a profile keeps the
  // identity Apple devices replace it by.
};

std::string ipsec_manual_conf(const IpsecProfile& p);         // manual/<user>.conf
std::string ipsec_manual_secrets(const IpsecProfile& p);      // manual/<user>.secrets
std::string ipsec_apple_mobileconfig(const IpsecProfile& p);  // apple/<user>.mobileconfig
std::string ipsec_swanctl_conf(const IpsecProfile& p);        // swanctl/<user>.conf
std::string ipsec_android_sswan(const IpsecProfile& p);       // android/<user>.sswan
std::string ipsec_windows_ps1(const IpsecProfile& p);         // windows/<user>.ps1

// <dir>/configs/<endpoint>/ipsec
std::string ipsec_bundle_dir(const std::string& dir, const std::string& endpoint);
// Every file a user's IKEv2 clients may need (the CA certificate, the .p12, the files above),
// whether or not it exists.
std::vector<std::string> ipsec_user_file_paths(const std::string& dir, const std::string& endpoint,
                                               const std::string& user);

// Writes all of the user's files above (and manual/cacert.pem), 0600 (cacert.pem 0644),
// atomically, creating directories (0700) as needed. Refuses, before writing anything, an
// endpoint that is not a host name or address, an invalid user name, an identity with characters
// the configuration files would need quoted, an empty .p12 and a CA that is not PEM.
Status write_ipsec_profiles(const std::string& dir, const IpsecProfile& p);
// Removes the user's files (not cacert.pem, which the other users share).
void remove_ipsec_profiles(const std::string& dir, const std::string& endpoint,
                           const std::string& user);

}  // namespace waypost::server
