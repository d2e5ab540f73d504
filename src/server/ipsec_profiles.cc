#include "server/ipsec_profiles.h"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/atomic_file.h"
#include "common/encoding.h"
#include "common/secret.h"
#include "ike/swanctl_writer.h"
#include "net/ip.h"
#include "server/config.h"
#include "server/config_text.h"
#include "server/plist.h"

namespace waypost::server {

namespace {

using text::is_ascii_alnum;

// Algo's proposals (config.cfg, ciphers.defaults) in strongSwan's notation: AES-256-GCM with a
// 16-byte ICV, PRF HMAC-SHA-512, ECDH on P-384 for the IKE SA and for PFS on the Child SA.
constexpr std::string_view kIkeProposal = "aes256gcm16-prfsha512-ecp384";
constexpr std::string_view kEspProposal = "aes256gcm16-ecp384";
// Algo's dead peer detection interval for clients.
constexpr std::string_view kDpdDelay = "35s";

// The same proposals in Apple's IKEv2 payload vocabulary: DH group 20 is ECP-384 (RFC 5903).
constexpr int kAppleDhGroup = 20;
constexpr int kAppleLifetimeMinutes = 1440;

// The last argument of stable_uuid() for every IKEv2 payload: the WireGuard profiles pass "ios" or
// "macos" there, so no IKEv2 UUID can equal one of theirs.
constexpr std::string_view kUuidKind = "ikev2";

std::string display_name(const IpsecProfile& p) {
  return fmt::format("Waypost IKEv2 {}", p.endpoint);
}

bool is_ip_address(std::string_view host) {
  return net::IpAddress::parse(host).ok();
}

// The server's IKE identity as strongSwan reads it: an address stays an address identity; a host
// name gets strongSwan's '@' so that it is an FQDN identity whatever characters it holds.
std::string server_identity(const IpsecProfile& p) {
  return is_ip_address(p.endpoint) ? p.endpoint : "@" + p.endpoint;
}

// A name with the characters `keep` allows, others replaced by '-'.
std::string sanitized(std::string_view s, std::string_view keep) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    out += is_ascii_alnum(c) || keep.find(c) != std::string_view::npos ? c : '-';
  }
  return out;
}

// Algo's conn name, "algovpn-<endpoint>", so that `ipsec up algovpn-<endpoint>` keeps working
// for its users. An IPv6 endpoint's colons would not survive ipsec.conf's parser.
std::string ipsec_conn_name(const IpsecProfile& p) {
  return sanitized("algovpn-" + p.endpoint, "-_.");
}

// swanctl.conf section names cannot hold . , : { } = " # or white space (strongswan.conf(5)).
std::string swanctl_name(std::string_view s) {
  return sanitized(s, "-_");
}

// A double-quoted swanctl.conf string with backslash escapes, which strongSwan's parser and
// ours read back the same.
std::string swanctl_quoted(std::string_view v) {
  return ike::swanctl_quoted_text(v);
}

// A swanctl.conf value: bare when it holds only characters with no meaning to the parser.
std::string swanctl_value(std::string_view v) {
  const bool bare = !v.empty() && std::all_of(v.begin(), v.end(), [](char c) {
    return is_ascii_alnum(c) || std::string_view("._@:/-+%").find(c) != std::string_view::npos;
  });
  return bare ? std::string(v) : swanctl_quoted(v);
}

// A PowerShell single-quoted string: nothing is expanded inside, and a quote is written twice.
// PowerShell also ends such strings at the typographic single quotes U+2018 to U+201B, so those
// are doubled as well.
std::string ps_quote(std::string_view v) {
  std::string out = "'";
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\'') {
      out += "''";
      continue;
    }
    // UTF-8 of U+2018..U+201B: E2 80 98..9B.
    if (i + 2 < v.size() && uint8_t(v[i]) == 0xE2 && uint8_t(v[i + 1]) == 0x80 &&
        uint8_t(v[i + 2]) >= 0x98 && uint8_t(v[i + 2]) <= 0x9B) {
      out.append(v.substr(i, 3));
      out.append(v.substr(i, 3));
      i += 2;
      continue;
    }
    out += v[i];
  }
  out += '\'';
  return out;
}

// The CA certificate as DER, for the profiles that embed it (Apple, Android, Windows); empty when
// ca_cert_pem holds no certificate (write_ipsec_profiles() refuses that case up front).
std::vector<uint8_t> ca_der(const IpsecProfile& p) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(p.ca_cert_pem.data(), int(p.ca_cert_pem.size())), BIO_free);
  if (!bio) {
    return {};
  }
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  if (!cert) {
    return {};
  }
  const int len = i2d_X509(cert.get(), nullptr);
  if (len <= 0) {
    return {};
  }
  std::vector<uint8_t> der(static_cast<size_t>(len));
  uint8_t* out = der.data();
  if (i2d_X509(cert.get(), &out) != len) {
    return {};
  }
  return der;
}

// Host names and addresses only: the endpoint becomes a directory name and a word in
// configuration files and a PowerShell script.
Status check_endpoint(std::string_view endpoint) {
  const bool ok = !endpoint.empty() && endpoint.size() <= 253 && endpoint.front() != '.' &&
                  endpoint.front() != '-' &&
                  std::all_of(endpoint.begin(), endpoint.end(), [](char c) {
                    return is_ascii_alnum(c) || c == '.' || c == '-' || c == ':' || c == '_';
                  });
  if (!ok) {
    return make_error(ErrorKind::kParse, "endpoint '{}' is not a host name or IP address",
                      endpoint);
  }
  return {};
}

// The identity is written unquoted into ipsec.conf and swanctl.conf: no spaces, quotes or
// comment characters.
Status check_identity(std::string_view id) {
  const bool ok = !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return is_ascii_alnum(c) || std::string_view("._@+-").find(c) != std::string_view::npos;
  });
  if (!ok) {
    return make_error(ErrorKind::kParse, "IKE identity '{}' is not an e-mail-style identity", id);
  }
  return {};
}

Status make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) == 0 || errno == EEXIST) {
    return {};
  }
  return make_errno_error(errno, "cannot create directory {}: {}", path, std::strerror(errno));
}

struct UserFile {
  std::string relative;  // under ipsec_bundle_dir()
  std::string (*render)(const IpsecProfile&);
};

// Every per-user file but the .p12 itself, which is written from the bytes as they are.
std::vector<UserFile> user_files(const std::string& user) {
  return {
      {"manual/" + user + ".conf", ipsec_manual_conf},
      {"manual/" + user + ".secrets", ipsec_manual_secrets},
      {"apple/" + user + ".mobileconfig", ipsec_apple_mobileconfig},
      {"swanctl/" + user + ".conf", ipsec_swanctl_conf},
      {"android/" + user + ".sswan", ipsec_android_sswan},
      {"windows/" + user + ".ps1", ipsec_windows_ps1},
  };
}

}  // namespace

// ------------------------------------------------------------------------------------------
// strongSwan, ipsec.conf (stroke) and swanctl.conf

std::string ipsec_manual_conf(const IpsecProfile& p) {
  const std::string conn = ipsec_conn_name(p);
  std::string out;
  out +=
      fmt::format("# Waypost IKEv2 client for {}, user {}: a strongSwan ipsec.conf connection.\n",
                  p.endpoint, p.user);
  out += fmt::format(
      "#\n"
      "# leftcert names {0}.crt, as Algo VPN's client files do. The certificate and its key come\n"
      "# from {0}.p12 (the password is the one given with these files):\n"
      "#   openssl pkcs12 -in {0}.p12 -clcerts -nokeys -out /etc/ipsec.d/certs/{0}.crt\n"
      "#   openssl pkcs12 -in {0}.p12 -nocerts -nodes -out /etc/ipsec.d/private/{0}.key\n"
      "#   cp cacert.pem /etc/ipsec.d/cacerts/\n"
      "# Then append this file to /etc/ipsec.conf and {0}.secrets to /etc/ipsec.secrets, and:\n"
      "#   ipsec restart && ipsec up {1}\n",
      p.user, conn);
  out += fmt::format("conn {}\n", conn);
  out += "    fragmentation=yes\n";
  out += "    rekey=no\n";
  out += "    dpdaction=clear\n";
  out += "    keyexchange=ikev2\n";
  out += "    compress=no\n";
  out += fmt::format("    dpddelay={}\n", kDpdDelay);
  out += "\n";
  // '!': strict, so that the client never offers anything weaker than the server accepts.
  out += fmt::format("    ike={}!\n", kIkeProposal);
  out += fmt::format("    esp={}!\n", kEspProposal);
  out += "\n";
  out += fmt::format("    right={}\n", p.endpoint);
  out += fmt::format("    rightid={}\n", server_identity(p));
  // Both families into the tunnel, so that IPv6 does not leak around it on dual-stack networks.
  out += "    rightsubnet=0.0.0.0/0,::/0\n";
  out += "    rightauth=pubkey\n";
  out += "\n";
  // An inner address of each family, as swanctl.conf's vips = 0.0.0.0,:: asks (Algo's %config
  // asks for IPv4 only).
  out += "    leftsourceip=%config4,%config6\n";
  out += "    leftauth=pubkey\n";
  out += fmt::format("    leftcert={}.crt\n", p.user);
  out += fmt::format("    leftid={}\n", p.user_id);
  out += "    left=%defaultroute\n";
  out += "\n";
  out += "    auto=add\n";
  return out;
}

std::string ipsec_manual_secrets(const IpsecProfile& p) {
  return fmt::format(
      "# The key extracted from {0}.p12 into /etc/ipsec.d/private/{0}.key (see {0}.conf).\n"
      ": ECDSA {0}.key\n",
      p.user);
}

std::string ipsec_swanctl_conf(const IpsecProfile& p) {
  const std::string conn = swanctl_name("algovpn-" + p.endpoint);
  std::string out;
  out += fmt::format("# Waypost IKEv2 client for {}, user {}: swanctl.conf for strongSwan.\n",
                     p.endpoint, p.user);
  out += fmt::format(
      "#\n"
      "# {0}.p12 holds the certificate and key (its password is below), cacert.pem the CA the\n"
      "# server's certificate must chain to:\n"
      "#   cp {0}.p12 /etc/swanctl/pkcs12/\n"
      "#   cp cacert.pem /etc/swanctl/x509ca/\n"
      "#   cp {0}.conf /etc/swanctl/conf.d/\n"
      "#   swanctl --load-all\n"
      "# Then connect and disconnect with\n"
      "#   swanctl --initiate --child {1}\n"
      "#   swanctl --terminate --ike {1}\n",
      p.user, conn);
  out += "connections {\n";
  out += fmt::format("  {} {{\n", conn);
  out += "    version = 2\n";
  out += fmt::format("    remote_addrs = {}\n", swanctl_value(p.endpoint));
  // An inner address of each family; the server hands out what it has.
  out += "    vips = 0.0.0.0,::\n";
  out += fmt::format("    proposals = {}\n", kIkeProposal);
  out += "    fragmentation = yes\n";
  out += fmt::format("    dpd_delay = {}\n", kDpdDelay);
  out += "    local {\n";
  out += "      auth = pubkey\n";
  out += "      # The certificate with this identity (its e-mail subjectAltName), from the .p12.\n";
  out += fmt::format("      id = {}\n", swanctl_value(p.user_id));
  out += "    }\n";
  out += "    remote {\n";
  out += "      auth = pubkey\n";
  out += fmt::format("      id = {}\n", swanctl_value(server_identity(p)));
  out += "      cacerts = cacert.pem\n";
  out += "    }\n";
  out += "    children {\n";
  out += fmt::format("      {} {{\n", conn);
  // Both families into the tunnel, so that IPv6 does not leak around it on dual-stack networks.
  out += "        remote_ts = 0.0.0.0/0,::/0\n";
  out += fmt::format("        esp_proposals = {}\n", kEspProposal);
  out += "        dpd_action = clear\n";
  out +=
      "        # Connected on request (swanctl --initiate above): a full tunnel started with the\n";
  out += "        # daemon would take over the machine's traffic at boot, and trap cannot cover\n";
  out += "        # a default route.\n";
  out += "        start_action = none\n";
  out += "      }\n";
  out += "    }\n";
  out += "  }\n";
  out += "}\n";
  out += "\n";
  out += "secrets {\n";
  out += fmt::format("  {} {{\n", swanctl_name("pkcs12-" + p.user));
  out += fmt::format("    file = {}\n", swanctl_value(p.user + ".p12"));
  // Always quoted, whatever the characters: it is a password, not a word of the syntax.
  std::string quoted = swanctl_quoted(p.p12_password);
  out += fmt::format("    secret = {}\n", quoted);
  secure_wipe(quoted.data(), quoted.size());
  out += "  }\n";
  out += "}\n";
  return out;
}

// ------------------------------------------------------------------------------------------
// Apple

std::string ipsec_apple_mobileconfig(const IpsecProfile& p) {
  const std::string name = display_name(p);
  const std::string vpn_uuid = stable_uuid({"vpn", p.endpoint, p.user, kUuidKind});
  const std::string p12_uuid = stable_uuid({"pkcs12", p.endpoint, p.user, kUuidKind});
  const std::string ca_uuid = stable_uuid({"ca", p.endpoint, p.user, kUuidKind});
  const std::string profile_uuid = stable_uuid({"profile", p.endpoint, p.user, kUuidKind});
  const std::vector<uint8_t> ca = ca_der(p);

  auto security_association = [](Plist& plist, std::string_view key) {
    plist.key(key);
    plist.open("dict");
    plist.integer("DiffieHellmanGroup", kAppleDhGroup);
    plist.string("EncryptionAlgorithm", "AES-256-GCM");
    plist.string("IntegrityAlgorithm", "SHA2-512");
    plist.integer("LifeTimeInMinutes", kAppleLifetimeMinutes);
    plist.close("dict");
  };

  Plist x;
  x.begin();
  x.open("dict");
  x.key("PayloadContent");
  x.open("array");

  // The VPN.
  x.open("dict");
  x.key("IKEv2");
  x.open("dict");
  x.string("AuthenticationMethod", "Certificate");
  x.string("CertificateType", "ECDSA384");
  security_association(x, "ChildSecurityAssociationParameters");
  x.string("DeadPeerDetectionRate", "Medium");
  // MOBIKE keeps the tunnel across Wi-Fi / cellular changes; redirects are never followed.
  x.integer("DisableMOBIKE", 0);
  x.integer("DisableRedirect", 1);
  x.integer("EnableCertificateRevocationCheck", 0);
  x.integer("EnablePFS", 1);
  x.integer("ExtendedAuthEnabled", 0);
  security_association(x, "IKESecurityAssociationParameters");
  x.string("LocalIdentifier", p.user_id);
  on_demand_rules(x, p.ondemand_wifi, p.ondemand_cellular, p.ondemand_wifi_exclude);
  // The certificate the device authenticates with: the identity in the PKCS#12 payload below.
  x.string("PayloadCertificateUUID", p12_uuid);
  x.string("RemoteAddress", p.endpoint);
  x.string("RemoteIdentifier", p.endpoint);
  // The server's certificate must be issued by this CA (the root payload below).
  x.string("ServerCertificateIssuerCommonName", p.ca_name);
  x.integer("UseConfigurationAttributeInternalIPSubnet", 0);
  x.close("dict");
  // Route everything through the tunnel on macOS too (the "send all traffic" switch).
  x.key("IPv4");
  x.open("dict");
  x.integer("OverridePrimary", 1);
  x.close("dict");
  x.string("PayloadDescription", fmt::format("IKEv2 VPN to {} for {}", p.endpoint, p.user));
  x.string("PayloadDisplayName", name);
  // Identifiers apart from the WireGuard profile's (com.waypost.vpn.*), so both can be installed.
  x.string("PayloadIdentifier", "com.waypost.ikev2.vpn." + vpn_uuid);
  x.string("PayloadType", "com.apple.vpn.managed");
  x.string("PayloadUUID", vpn_uuid);
  x.integer("PayloadVersion", 1);
  x.string("UserDefinedName", name);
  x.string("VPNType", "IKEv2");
  x.close("dict");

  // The user's certificate and key.
  x.open("dict");
  x.string("Password", p.p12_password);
  x.string("PayloadCertificateFileName", p.user + ".p12");
  x.data("PayloadContent", p.p12);
  x.string("PayloadDescription", fmt::format("Certificate of {} for {}", p.user, name));
  x.string("PayloadDisplayName", p.user);
  x.string("PayloadIdentifier", "com.waypost.ikev2.pkcs12." + p12_uuid);
  x.string("PayloadType", "com.apple.security.pkcs12");
  x.string("PayloadUUID", p12_uuid);
  x.integer("PayloadVersion", 1);
  x.close("dict");

  // The CA, trusted for this server's certificate.
  x.open("dict");
  x.string("PayloadCertificateFileName", "cacert.crt");
  x.data("PayloadContent", ca);
  x.string("PayloadDescription", fmt::format("Certificate authority of {}", name));
  x.string("PayloadDisplayName", p.ca_name);
  x.string("PayloadIdentifier", "com.waypost.ikev2.ca." + ca_uuid);
  x.string("PayloadType", "com.apple.security.root");
  x.string("PayloadUUID", ca_uuid);
  x.integer("PayloadVersion", 1);
  x.close("dict");

  x.close("array");
  x.string("PayloadDisplayName", fmt::format("{} ({})", name, p.user));
  // The same identifier on every regeneration: installing the new profile replaces the old.
  x.string("PayloadIdentifier", "com.waypost.ikev2.profile." + profile_uuid);
  x.string("PayloadOrganization", "Waypost");
  x.boolean("PayloadRemovalDisallowed", false);
  x.string("PayloadType", "Configuration");
  x.string("PayloadUUID", profile_uuid);
  x.integer("PayloadVersion", 1);
  x.close("dict");
  x.end();
  return std::move(x.text());
}

// ------------------------------------------------------------------------------------------
// Android: the strongSwan app's profile import format (a JSON object; the app's documentation,
// "VPN Profile Import for the Android VPN Client", lists the keys).

std::string ipsec_android_sswan(const IpsecProfile& p) {
  nlohmann::ordered_json j;
  // The app replaces a profile with the same UUID on import.
  j["uuid"] = stable_uuid({"sswan", p.endpoint, p.user, kUuidKind});
  j["name"] = display_name(p);
  j["type"] = "ikev2-cert";
  j["remote"]["addr"] = p.endpoint;
  j["remote"]["id"] = p.endpoint;
  // The CA; the app adds it to its own trust store, not the system's.
  j["remote"]["cert"] = to_base64(ca_der(p));
  j["local"]["id"] = p.user_id;
  // Imported through Android's certificate installer, which asks for the .p12 password.
  j["local"]["p12"] = to_base64(p.p12);
  j["ike-proposal"] = kIkeProposal;
  j["esp-proposal"] = kEspProposal;
  // replace: never throw on a string that is not UTF-8 (the inputs are checked to be ASCII).
  std::string text = j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
  text += '\n';
  // The p12's base64 is in j as well.
  auto& p12_text = j["local"]["p12"].get_ref<std::string&>();
  secure_wipe(p12_text.data(), p12_text.size());
  return text;
}

// ------------------------------------------------------------------------------------------
// Windows

std::string ipsec_windows_ps1(const IpsecProfile& p) {
  std::string p12_b64 = to_base64(p.p12);
  std::string password = ps_quote(p.p12_password);
  std::string out;
  out += "#Requires -RunAsAdministrator\n";
  out += "<#\n";
  out += ".SYNOPSIS\n";
  out += fmt::format("Adds or removes the Waypost IKEv2 VPN to {} for {}.\n", p.endpoint, p.user);
  out += "\n";
  out += ".DESCRIPTION\n";
  out += "-Add imports the user's certificate and key (embedded below as PKCS#12) into the\n";
  out += "computer's personal store and the server's CA into its trusted root store, creates an\n";
  out += "IKEv2 connection that authenticates with that certificate, and sets the IPsec\n";
  out += "parameters the server accepts. -Remove deletes the connection and both certificates.\n";
  out += "\n";
  out += "From an elevated PowerShell:\n";
  out += fmt::format("  powershell -ExecutionPolicy Bypass -File .\\{}.ps1 -Add\n", p.user);
  out += fmt::format("  powershell -ExecutionPolicy Bypass -File .\\{}.ps1 -Remove\n", p.user);
  out += "\n";
  out += ".PARAMETER Add\n";
  out += "Import the certificates and add the VPN connection (the default).\n";
  out += "\n";
  out += ".PARAMETER AllUsers\n";
  out += "Make the connection available to every user of this computer, not only to you.\n";
  out += "\n";
  out += ".PARAMETER Remove\n";
  out += "Remove the VPN connection and the certificates -Add imported.\n";
  out += "#>\n";
  out += "[CmdletBinding(DefaultParameterSetName = 'Add')]\n";
  out += "param(\n";
  out += "    [Parameter(ParameterSetName = 'Add')] [switch] $Add,\n";
  out += "    [Parameter(ParameterSetName = 'Add')] [switch] $AllUsers,\n";
  out += "    [Parameter(ParameterSetName = 'Remove', Mandatory)] [switch] $Remove\n";
  out += ")\n";
  out += "\n";
  out += "$ErrorActionPreference = 'Stop'\n";
  out += "\n";
  out += fmt::format("$VpnName = {}\n", ps_quote(display_name(p)));
  out += fmt::format("$ServerAddress = {}\n", ps_quote(p.endpoint));
  out += fmt::format("$VpnUser = {}\n", ps_quote(p.user));
  out += fmt::format("$CaCertificateBase64 = '{}'\n", to_base64(ca_der(p)));
  out += fmt::format("$UserPkcs12Base64 = '{}'\n", p12_b64);
  out += fmt::format("$Pkcs12Password = ConvertTo-SecureString -String {} -AsPlainText -Force\n",
                     password);
  out += R"ps1(
function Get-EmbeddedCa {
    [Security.Cryptography.X509Certificates.X509Certificate2]::new(
        [Convert]::FromBase64String($CaCertificateBase64))
}

function Add-WaypostVpn {
    $work = Join-Path ([IO.Path]::GetTempPath()) ([Guid]::NewGuid().ToString())
    New-Item -ItemType Directory -Path $work | Out-Null
    try {
        $caPath = Join-Path $work 'cacert.cer'
        $p12Path = Join-Path $work "$VpnUser.p12"
        [IO.File]::WriteAllBytes($caPath, [Convert]::FromBase64String($CaCertificateBase64))
        [IO.File]::WriteAllBytes($p12Path, [Convert]::FromBase64String($UserPkcs12Base64))
        Import-Certificate -FilePath $caPath -CertStoreLocation 'Cert:\LocalMachine\Root' | Out-Null
        Import-PfxCertificate -FilePath $p12Path -Password $Pkcs12Password `
            -CertStoreLocation 'Cert:\LocalMachine\My' | Out-Null
    } finally {
        Remove-Item -LiteralPath $work -Recurse -Force
    }

    $connection = @{
        Name = $VpnName
        ServerAddress = $ServerAddress
        TunnelType = 'Ikev2'
        AuthenticationMethod = 'MachineCertificate'
        EncryptionLevel = 'Required'
        AllUserConnection = [bool]$AllUsers
    }
    Add-VpnConnection @connection

    # IKE SA: AES-256 with SHA-384 on ECP-384; Child SA: AES-256-GCM with PFS on ECP-384.
    $ipsec = @{
        ConnectionName = $VpnName
        AuthenticationTransformConstants = 'GCMAES256'
        CipherTransformConstants = 'GCMAES256'
        EncryptionMethod = 'AES256'
        IntegrityCheckMethod = 'SHA384'
        DHGroup = 'ECP384'
        PfsGroup = 'ECP384'
        AllUserConnection = [bool]$AllUsers
        Force = $true
    }
    Set-VpnConnectionIPsecConfiguration @ipsec
    Write-Host "Added the VPN connection '$VpnName'."
}

function Remove-WaypostVpn {
    foreach ($allUsers in $false, $true) {
        if (Get-VpnConnection -Name $VpnName -AllUserConnection:$allUsers -ErrorAction SilentlyContinue) {
            Remove-VpnConnection -Name $VpnName -AllUserConnection:$allUsers -Force
        }
    }
    $ca = Get-EmbeddedCa
    # The user's certificate: issued by this CA to this user.
    Get-ChildItem -LiteralPath 'Cert:\LocalMachine\My' |
        Where-Object {
            $_.Issuer -eq $ca.Subject -and
            $_.GetNameInfo([Security.Cryptography.X509Certificates.X509NameType]::SimpleName, $false) -eq $VpnUser
        } |
        Remove-Item -Force
    # The CA, wherever the imports put it.
    foreach ($store in 'Root', 'CA') {
        $path = "Cert:\LocalMachine\$store\$($ca.Thumbprint)"
        if (Test-Path -LiteralPath $path) {
            Remove-Item -LiteralPath $path -Force
        }
    }
    Write-Host "Removed the VPN connection '$VpnName'."
}

switch ($PSCmdlet.ParameterSetName) {
    'Add' { Add-WaypostVpn }
    'Remove' { Remove-WaypostVpn }
}
)ps1";
  secure_wipe(p12_b64.data(), p12_b64.size());
  secure_wipe(password.data(), password.size());
  // Windows PowerShell reads a file without a byte order mark in the ANSI code page: mark UTF-8
  // when a name or the password is not ASCII.
  if (std::any_of(out.begin(), out.end(), [](char c) { return uint8_t(c) >= 0x80; })) {
    out.insert(0, "\xEF\xBB\xBF");
  }
  return out;
}

// ------------------------------------------------------------------------------------------
// Files

std::string ipsec_bundle_dir(const std::string& dir, const std::string& endpoint) {
  return dir + "/configs/" + endpoint + "/ipsec";
}

Status write_ipsec_profiles(const std::string& dir, const IpsecProfile& p) {
  if (auto st = check_endpoint(p.endpoint); !st) {
    return st.take_error().context("cannot write IKEv2 client files");
  }
  // The user name is a file name here; config parsing already enforces this, but a bad name
  // must never reach the file system by another route.
  if (auto st = validate_user_name(p.user); !st) {
    return st.take_error().context("cannot write IKEv2 client files");
  }
  if (auto st = check_identity(p.user_id); !st) {
    return st.take_error().context("cannot write IKEv2 client files");
  }
  if (p.p12.empty()) {
    return make_error("cannot write IKEv2 client files for '{}': no PKCS#12", p.user);
  }
  if (ca_der(p).empty()) {
    return make_error(ErrorKind::kParse,
                      "cannot write IKEv2 client files for '{}': the CA is not a PEM certificate",
                      p.user);
  }
  const std::string base = ipsec_bundle_dir(dir, p.endpoint);
  for (const std::string& d :
       {dir + "/configs", dir + "/configs/" + p.endpoint, base, base + "/manual", base + "/apple",
        base + "/swanctl", base + "/android", base + "/windows"}) {
    if (auto st = make_dir(d); !st) {
      return st;
    }
  }
  if (auto st = write_file_atomic(base + "/manual/cacert.pem", p.ca_cert_pem, 0644); !st) {
    return st;
  }
  const std::string_view p12(reinterpret_cast<const char*>(p.p12.data()), p.p12.size());
  if (auto st = write_file_atomic(base + "/manual/" + p.user + ".p12", p12, 0600); !st) {
    return st;
  }
  for (const UserFile& f : user_files(p.user)) {
    // Each holds the .p12, its password, or both.
    std::string text = f.render(p);
    auto st = write_file_atomic(base + "/" + f.relative, text, 0600);
    secure_wipe(text.data(), text.size());
    if (!st) {
      return st;
    }
  }
  return {};
}

std::vector<std::string> ipsec_user_file_paths(const std::string& dir, const std::string& endpoint,
                                               const std::string& user) {
  if (!check_endpoint(endpoint) || !validate_user_name(user)) return {};
  const std::string base = ipsec_bundle_dir(dir, endpoint);
  std::vector<std::string> out = {base + "/manual/cacert.pem", base + "/manual/" + user + ".p12"};
  for (const UserFile& f : user_files(user)) out.push_back(base + "/" + f.relative);
  return out;
}

void remove_ipsec_profiles(const std::string& dir, const std::string& endpoint,
                           const std::string& user) {
  if (!check_endpoint(endpoint) || !validate_user_name(user)) {
    return;
  }
  const std::string base = ipsec_bundle_dir(dir, endpoint);
  ::unlink((base + "/manual/" + user + ".p12").c_str());
  for (const UserFile& f : user_files(user)) {
    ::unlink((base + "/" + f.relative).c_str());
  }
}

}  // namespace waypost::server
