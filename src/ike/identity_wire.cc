#include "ike/identity_wire.h"

#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <memory>

#include "common/encoding.h"

namespace waypost::ike {

namespace {

using NamePtr = std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)>;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return char(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// strongSwan's attribute names that OpenSSL spells differently.
std::string openssl_attribute(std::string_view attr) {
  const std::string a = lower(attr);
  if (a == "e" || a == "email" || a == "emailaddress") return "emailAddress";
  if (a == "s" || a == "st") return "ST";
  if (a == "sn") return "serialNumber";
  return std::string(attr);
}

// "C=CH, O=strongSwan, CN=moon" in the order written (strongSwan's order: most significant first).
Result<std::vector<uint8_t>> dn_der(std::string_view text) {
  NamePtr name(X509_NAME_new(), X509_NAME_free);
  if (!name) return make_error("out of memory");
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view part = trim(text.substr(start, comma - start));
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return make_error(ErrorKind::kParse, "'{}' is not attr=value in DN '{}'", part, text);
    }
    const std::string attr = openssl_attribute(trim(part.substr(0, eq)));
    const std::string value(trim(part.substr(eq + 1)));
    if (X509_NAME_add_entry_by_txt(name.get(), attr.c_str(), MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   int(value.size()), -1, 0) != 1) {
      return make_error(ErrorKind::kParse, "unknown attribute '{}' in DN '{}'", attr, text);
    }
    start = comma + 1;
  }
  unsigned char* der = nullptr;
  const int len = i2d_X509_NAME(name.get(), &der);
  if (len <= 0) return make_error("cannot encode DN '{}'", text);
  std::vector<uint8_t> out(der, der + len);
  OPENSSL_free(der);
  return out;
}

// A "#hex" value (keyid:#..., or any typed identity written in hex) as its bytes.
std::optional<std::vector<uint8_t>> hex_value(const std::string& value) {
  if (value.size() < 3 || value.front() != '#' || value.size() % 2 == 0) return std::nullopt;
  std::vector<uint8_t> bytes((value.size() - 1) / 2);
  if (!from_hex(std::string_view(value).substr(1), bytes)) return std::nullopt;
  return bytes;
}

}  // namespace

Result<IdPayload> id_payload_of(const Identity& id) {
  if (id.any) return make_error(ErrorKind::kParse, "%any is not an identity to present");
  IdPayload out;
  out.type = id.type;
  if (auto raw = hex_value(id.value)) {
    out.data = std::move(*raw);
    return out;
  }
  switch (id.type) {
    case IdType::kIpv4:
    case IdType::kIpv6: {
      auto ip = net::IpAddress::parse(id.value);
      if (!ip || (ip->is_v4() != (id.type == IdType::kIpv4))) {
        return make_error(ErrorKind::kParse, "identity '{}' is not an IP address of its type",
                          id.text);
      }
      out.data.assign(ip->bytes.begin(), ip->bytes.begin() + long(ip->byte_length()));
      return out;
    }
    case IdType::kFqdn:
    case IdType::kRfc822:
    case IdType::kKeyId:
      out.data.assign(id.value.begin(), id.value.end());
      return out;
    case IdType::kDerAsn1Dn: {
      auto der = dn_der(id.value);
      if (!der) return der.take_error();
      out.data = std::move(*der);
      return out;
    }
    case IdType::kDerAsn1Gn:
      break;
  }
  return make_error(ErrorKind::kParse, "identity '{}': this type cannot be sent", id.text);
}

bool identity_matches(const Identity& expected, const IdPayload& got) {
  if (expected.any) return true;
  if (expected.type != got.type) return false;
  auto want = id_payload_of(expected);
  if (!want) return false;
  if (got.type == IdType::kFqdn || got.type == IdType::kRfc822) {
    return lower(std::string(want->data.begin(), want->data.end())) ==
           lower(std::string(got.data.begin(), got.data.end()));
  }
  return want->data == got.data;
}

std::string identity_text(const IdPayload& id) {
  switch (id.type) {
    case IdType::kIpv4:
      if (id.data.size() == 4) return net::IpAddress::v4_bytes(id.data.data()).to_string();
      break;
    case IdType::kIpv6:
      if (id.data.size() == 16) return net::IpAddress::v6_bytes(id.data.data()).to_string();
      break;
    case IdType::kFqdn:
    case IdType::kRfc822: {
      const bool printable = std::all_of(id.data.begin(), id.data.end(),
                                         [](uint8_t c) { return c >= 0x20 && c < 0x7f; });
      if (printable) return {id.data.begin(), id.data.end()};
      break;
    }
    case IdType::kDerAsn1Dn: {
      const unsigned char* p = id.data.data();
      NamePtr name(d2i_X509_NAME(nullptr, &p, long(id.data.size())), X509_NAME_free);
      if (!name || p != id.data.data() + id.data.size()) break;
      std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
      if (!bio || X509_NAME_print_ex(
                      bio.get(), name.get(), 0,
                      XN_FLAG_SEP_CPLUS_SPC | ASN1_STRFLGS_UTF8_CONVERT | XN_FLAG_FN_SN) < 0) {
        break;
      }
      char* data = nullptr;
      const long len = BIO_get_mem_data(bio.get(), &data);
      return {data, size_t(len)};
    }
    default:
      break;
  }
  return "#" + to_hex(id.data);
}

Identity identity_of(const IdPayload& id) {
  Identity out;
  out.any = false;
  out.type = id.type;
  if (id.type == IdType::kKeyId || id.type == IdType::kDerAsn1Gn) {
    out.value = "#" + to_hex(id.data);
  } else {
    out.value = identity_text(id);
  }
  out.text = out.value;
  return out;
}

}  // namespace waypost::ike
