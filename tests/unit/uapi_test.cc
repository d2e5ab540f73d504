// The cross-platform userspace API: set parsing as wg(8) sends it, get formatting as wg(8)
// reads it, and request framing on a byte stream.
#include "wireguard/uapi.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/encoding.h"

namespace waypost::wireguard {
namespace {

// 32-byte keys as wg(8) writes them on the socket: 64 lowercase hex digits.
std::string hex_key(uint8_t first) {
  std::array<uint8_t, 32> k{};
  for (size_t i = 0; i < k.size(); ++i) {
    k[i] = uint8_t(first + i);
  }
  return to_hex(k);
}

const std::string kPriv = hex_key(0x10);
const std::string kPeer1 = hex_key(0x40);
const std::string kPeer2 = hex_key(0x80);
const std::string kPeer3 = hex_key(0xc0);
const std::string kPsk = hex_key(0xe0);
const std::string kZero(64, '0');

std::string hex(std::span<const uint8_t> b) {
  return to_hex(b);
}

UapiSet parse_ok(std::string_view body) {
  auto r = parse_uapi_set(body);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message) << "\n--- body:\n" << body;
  return r.ok() ? std::move(r).value() : UapiSet{};
}

TEST(Uapi, ParsesSetconfAsWgSendsIt) {
  // The lines wireguard-tools' userspace_set_device writes for `wg setconf` of a config with
  // three peers (the third one removed), in its order.
  const std::string body = "private_key=" + kPriv +
                           "\n"
                           "listen_port=51820\n"
                           "fwmark=4660\n"
                           "replace_peers=true\n"
                           "public_key=" +
                           kPeer1 + "\npreshared_key=" + kPsk +
                           "\n"
                           "endpoint=192.0.2.1:51820\n"
                           "persistent_keepalive_interval=25\n"
                           "replace_allowed_ips=true\n"
                           "allowed_ip=10.0.0.2/32\n"
                           "allowed_ip=fd00::2/128\n"
                           "public_key=" +
                           kPeer2 +
                           "\n"
                           "endpoint=[2001:db8::1]:51821\n"
                           "replace_allowed_ips=true\n"
                           "allowed_ip=10.1.0.0/16\n"
                           "allowed_ip=-10.2.0.0/16\n"
                           "public_key=" +
                           kPeer3 + "\nremove=true\n";
  UapiSet s = parse_ok(body);
  ASSERT_TRUE(s.private_key);
  EXPECT_EQ(hex(s.private_key->span()), kPriv);
  EXPECT_EQ(s.listen_port, 51820);
  EXPECT_EQ(s.fwmark, 4660u);
  EXPECT_TRUE(s.replace_peers);
  ASSERT_EQ(s.peers.size(), 3u);

  const UapiPeerChange& a = s.peers[0];
  EXPECT_EQ(hex(a.public_key), kPeer1);
  ASSERT_TRUE(a.preshared_key);
  EXPECT_EQ(hex(a.preshared_key->span()), kPsk);
  ASSERT_TRUE(a.endpoint);
  EXPECT_EQ(a.endpoint->to_string(), "192.0.2.1:51820");
  EXPECT_EQ(a.persistent_keepalive, 25);
  EXPECT_TRUE(a.replace_allowed_ips);
  EXPECT_FALSE(a.remove);
  EXPECT_FALSE(a.update_only);
  ASSERT_EQ(a.allowed_ips.size(), 2u);
  EXPECT_EQ(a.allowed_ips[0].prefix.to_string(), "10.0.0.2/32");
  EXPECT_FALSE(a.allowed_ips[0].remove);
  EXPECT_EQ(a.allowed_ips[1].prefix.to_string(), "fd00::2/128");

  const UapiPeerChange& b = s.peers[1];
  EXPECT_EQ(hex(b.public_key), kPeer2);
  EXPECT_FALSE(b.preshared_key);
  EXPECT_EQ(b.endpoint->to_string(), "[2001:db8::1]:51821");
  EXPECT_FALSE(b.persistent_keepalive);
  ASSERT_EQ(b.allowed_ips.size(), 2u);
  EXPECT_EQ(b.allowed_ips[1].prefix.to_string(), "10.2.0.0/16");
  EXPECT_TRUE(b.allowed_ips[1].remove);

  const UapiPeerChange& c = s.peers[2];
  EXPECT_EQ(hex(c.public_key), kPeer3);
  EXPECT_TRUE(c.remove);
  EXPECT_TRUE(c.allowed_ips.empty());
}

TEST(Uapi, ParsesSmallSets) {
  // `wg set wg0 private-key /dev/null listen-port 0`: a zero key removes the private key.
  UapiSet s = parse_ok("private_key=" + kZero + "\nlisten_port=0\n");
  ASSERT_TRUE(s.private_key);
  EXPECT_TRUE(s.private_key->is_zero());
  EXPECT_EQ(s.listen_port, 0);
  EXPECT_FALSE(s.fwmark);
  EXPECT_TRUE(s.peers.empty());

  // An empty set (wg with nothing to change) and a body without its final newline.
  EXPECT_TRUE(parse_ok("").peers.empty());
  EXPECT_EQ(parse_ok("fwmark=0").fwmark, 0u);

  // update_only, protocol_version, a zero preshared key, uppercase hex, largest values.
  std::string upper = kPeer1;
  for (char& ch : upper) {
    ch = char(std::toupper(static_cast<unsigned char>(ch)));
  }
  s = parse_ok("fwmark=4294967295\npublic_key=" + upper +
               "\nupdate_only=true\nprotocol_version=1\npreshared_key=" + kZero +
               "\npersistent_keepalive_interval=65535\nallowed_ip=0.0.0.0/0\nallowed_ip=::/0\n"
               "public_key=" +
               kPeer1 + "\n");
  EXPECT_EQ(s.fwmark, 0xffffffffu);
  ASSERT_EQ(s.peers.size(), 2u);
  EXPECT_EQ(hex(s.peers[0].public_key), kPeer1);
  EXPECT_TRUE(s.peers[0].update_only);
  EXPECT_TRUE(s.peers[0].preshared_key->is_zero());
  EXPECT_EQ(s.peers[0].persistent_keepalive, 65535);
  EXPECT_EQ(s.peers[0].allowed_ips[1].prefix.to_string(), "::/0");
  // The same peer twice is two changes, applied in order by the device.
  EXPECT_EQ(s.peers[1].public_key, s.peers[0].public_key);

  // Host bits are cleared, as the kernel and wireguard-go do.
  s = parse_ok("public_key=" + kPeer1 + "\nallowed_ip=10.1.2.3/8\n");
  EXPECT_EQ(s.peers[0].allowed_ips[0].prefix.to_string(), "10.0.0.0/8");
}

struct ErrorCase {
  std::string body;
  int code;
  std::string message;
};

TEST(Uapi, EveryErrorHasItsCodeAndNamesLineAndKey) {
  const std::string peer = "public_key=" + kPeer1 + "\n";  // line 1
  const std::vector<ErrorCase> cases = {
      // Framing inside the body: protocol errors.
      {"listen_port=1\nlisten_port\n", kUapiErrorProtocol, "line 2: expected key=value"},
      {"listen_port=1\n\nfwmark=1\n", kUapiErrorProtocol, "line 2: unexpected empty line"},
      {peer + "garbage\n", kUapiErrorProtocol, "line 2: expected key=value"},
      // Unknown keys, and keys in the wrong part of the request.
      {"listen_port=1\nListen_Port=2\n", kUapiErrorInvalid, "line 2: unknown key 'Listen_Port'"},
      {"=1\n", kUapiErrorInvalid, "line 1: unknown key ''"},
      {peer + "tx_bytes=5\n", kUapiErrorInvalid, "line 2: unknown key 'tx_bytes'"},
      {peer + "listen_port=1\n", kUapiErrorInvalid,
       "line 2: key 'listen_port': device keys must come before the first public_key"},
      {peer + "private_key=" + kPriv + "\n", kUapiErrorInvalid,
       "line 2: key 'private_key': device keys must come before the first public_key"},
      {peer + "replace_peers=true\n", kUapiErrorInvalid,
       "line 2: key 'replace_peers': device keys must come before the first public_key"},
      {"endpoint=192.0.2.1:1\n", kUapiErrorInvalid,
       "line 1: key 'endpoint': peer keys must follow a public_key line"},
      {"allowed_ip=10.0.0.0/8\n", kUapiErrorInvalid,
       "line 1: key 'allowed_ip': peer keys must follow a public_key line"},
      {"protocol_version=1\n", kUapiErrorInvalid,
       "line 1: key 'protocol_version': peer keys must follow a public_key line"},
      // Keys.
      {"private_key=" + kPriv.substr(2) + "\n", kUapiErrorInvalid,
       "line 1: key 'private_key': invalid key (expected 64 hex digits)"},
      {"private_key=" + kPriv.substr(1) + "g\n", kUapiErrorInvalid,
       "line 1: key 'private_key': invalid key (expected 64 hex digits)"},
      {"public_key=" + kPeer1 + "00\n", kUapiErrorInvalid,
       "line 1: key 'public_key': invalid key (expected 64 hex digits)"},
      {peer + "preshared_key=\n", kUapiErrorInvalid,
       "line 2: key 'preshared_key': invalid key (expected 64 hex digits)"},
      // Numbers.
      {"listen_port=65536\n", kUapiErrorInvalid,
       "line 1: key 'listen_port': invalid port '65536' (expected 0-65535)"},
      {"listen_port=\n", kUapiErrorInvalid,
       "line 1: key 'listen_port': invalid port '' (expected 0-65535)"},
      {"listen_port=+1\n", kUapiErrorInvalid,
       "line 1: key 'listen_port': invalid port '+1' (expected 0-65535)"},
      {"listen_port= 1\n", kUapiErrorInvalid,
       "line 1: key 'listen_port': invalid port ' 1' (expected 0-65535)"},
      {"fwmark=4294967296\n", kUapiErrorInvalid,
       "line 1: key 'fwmark': invalid fwmark '4294967296' (expected 0-4294967295)"},
      {"fwmark=0x10\n", kUapiErrorInvalid,
       "line 1: key 'fwmark': invalid fwmark '0x10' (expected 0-4294967295)"},
      {peer + "persistent_keepalive_interval=-1\n", kUapiErrorInvalid,
       "line 2: key 'persistent_keepalive_interval': invalid interval '-1' (expected 0-65535)"},
      // Flags take exactly "true".
      {"replace_peers=false\n", kUapiErrorInvalid,
       "line 1: key 'replace_peers': invalid value 'false' (only true is valid)"},
      {peer + "remove=1\n", kUapiErrorInvalid,
       "line 2: key 'remove': invalid value '1' (only true is valid)"},
      {peer + "update_only=True\n", kUapiErrorInvalid,
       "line 2: key 'update_only': invalid value 'True' (only true is valid)"},
      {peer + "replace_allowed_ips=\n", kUapiErrorInvalid,
       "line 2: key 'replace_allowed_ips': invalid value '' (only true is valid)"},
      {peer + "protocol_version=2\n", kUapiErrorInvalid,
       "line 2: key 'protocol_version': unsupported version '2' (only 1)"},
      // Endpoints are numeric.
      {peer + "endpoint=example.com:51820\n", kUapiErrorInvalid,
       "line 2: key 'endpoint': invalid endpoint 'example.com:51820'"},
      {peer + "endpoint=2001:db8::1:51820\n", kUapiErrorInvalid,
       "line 2: key 'endpoint': invalid endpoint '2001:db8::1:51820'"},
      {peer + "endpoint=192.0.2.1:65536\n", kUapiErrorInvalid,
       "line 2: key 'endpoint': invalid endpoint '192.0.2.1:65536'"},
      {peer + "endpoint=192.0.2.1\n", kUapiErrorInvalid,
       "line 2: key 'endpoint': invalid endpoint '192.0.2.1'"},
      // Allowed IPs.
      {peer + "allowed_ip=10.0.0.0/33\n", kUapiErrorInvalid,
       "line 2: key 'allowed_ip': invalid prefix '10.0.0.0/33'"},
      {peer + "allowed_ip=10.0.0.1\n", kUapiErrorInvalid,
       "line 2: key 'allowed_ip': invalid prefix '10.0.0.1'"},
      {peer + "allowed_ip=+10.0.0.0/8\n", kUapiErrorInvalid,
       "line 2: key 'allowed_ip': invalid prefix '+10.0.0.0/8'"},
      {peer + "allowed_ip=--10.0.0.0/8\n", kUapiErrorInvalid,
       "line 2: key 'allowed_ip': invalid prefix '--10.0.0.0/8'"},
      {peer + "allowed_ip=fd00::/129\n", kUapiErrorInvalid,
       "line 2: key 'allowed_ip': invalid prefix 'fd00::/129'"},
      // Echoed values are bounded and free of control bytes.
      {"listen_port=" + std::string(100, '9') + "\n", kUapiErrorInvalid,
       "line 1: key 'listen_port': invalid port '" + std::string(64, '9') +
           "...' (expected 0-65535)"},
      {std::string("x\x1b[31m=1\n"), kUapiErrorInvalid, "line 1: unknown key 'x?[31m'"},
  };
  for (const auto& c : cases) {
    auto r = parse_uapi_set(c.body);
    ASSERT_FALSE(r.ok()) << c.body;
    EXPECT_EQ(r.error().code, c.code) << c.body;
    EXPECT_EQ(r.error().message, c.message) << c.body;
  }
}

TEST(Uapi, SecretsAreNotEchoed) {
  const std::string almost = kPriv.substr(0, 63);
  auto r = parse_uapi_set("private_key=" + almost + "\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find(almost), std::string::npos);
  r = parse_uapi_set("public_key=" + kPeer1 + "\npreshared_key=" + almost + "\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find(almost), std::string::npos);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) {
      out.push_back(text.substr(pos));
      break;
    }
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

crypto::PublicKey key_bytes(const std::string& h) {
  crypto::PublicKey k{};
  EXPECT_TRUE(from_hex(h, k));
  return k;
}

TEST(Uapi, FormatsGetLineByLine) {
  UapiDeviceState st;
  st.private_key = crypto::PrivateKey(std::span<const uint8_t, 32>(key_bytes(kPriv)));
  st.listen_port = 51820;
  st.fwmark = 51;

  UapiPeerState& a = st.peers.emplace_back();
  a.public_key = key_bytes(kPeer1);
  a.preshared_key = crypto::SymmetricKey(std::span<const uint8_t, 32>(key_bytes(kPsk)));
  a.endpoint = net::Endpoint::parse("192.0.2.1:51820").value();
  a.persistent_keepalive = 25;
  a.last_handshake = {1700000123, 456789};
  a.tx_bytes = 1234567890123ull;
  a.rx_bytes = 42;
  a.allowed_ips = {net::Prefix::parse("10.0.0.2/32").value(),
                   net::Prefix::parse("fd00::/64").value()};

  UapiPeerState& b = st.peers.emplace_back();  // never connected, no endpoint
  b.public_key = key_bytes(kPeer2);
  b.endpoint = net::Endpoint::parse("[2001:db8::1]:1").value();

  UapiPeerState& c = st.peers.emplace_back();
  c.public_key = key_bytes(kPeer3);

  const std::vector<std::string> expected = {
      "private_key=" + kPriv,
      "listen_port=51820",
      "fwmark=51",
      "public_key=" + kPeer1,
      "preshared_key=" + kPsk,
      "protocol_version=1",
      "endpoint=192.0.2.1:51820",
      "last_handshake_time_sec=1700000123",
      "last_handshake_time_nsec=456789",
      "tx_bytes=1234567890123",
      "rx_bytes=42",
      "persistent_keepalive_interval=25",
      "allowed_ip=10.0.0.2/32",
      "allowed_ip=fd00::/64",
      "public_key=" + kPeer2,
      "preshared_key=" + kZero,
      "protocol_version=1",
      "endpoint=[2001:db8::1]:1",
      "last_handshake_time_sec=0",
      "last_handshake_time_nsec=0",
      "tx_bytes=0",
      "rx_bytes=0",
      "persistent_keepalive_interval=0",
      "public_key=" + kPeer3,
      "preshared_key=" + kZero,
      "protocol_version=1",
      "last_handshake_time_sec=0",
      "last_handshake_time_nsec=0",
      "tx_bytes=0",
      "rx_bytes=0",
      "persistent_keepalive_interval=0",
      "errno=0",
      "",
  };
  const std::string text = format_uapi_get(st);
  EXPECT_EQ(lines(text), expected);
  EXPECT_TRUE(text.ends_with("\nerrno=0\n\n"));
}

TEST(Uapi, FormatsMinimalGet) {
  // No private key and no fwmark: those lines are left out; the port is always there.
  UapiDeviceState st;
  EXPECT_EQ(format_uapi_get(st), "listen_port=0\nerrno=0\n\n");
  st.private_key = crypto::PrivateKey();  // set but zero: same as none
  EXPECT_EQ(format_uapi_get(st), "listen_port=0\nerrno=0\n\n");
}

TEST(Uapi, FormatsErrno) {
  EXPECT_EQ(format_uapi_errno(0), "errno=0\n\n");
  EXPECT_EQ(format_uapi_errno(kUapiErrorInvalid), "errno=-22\n\n");
  EXPECT_EQ(format_uapi_errno(kUapiErrorProtocol), "errno=-71\n\n");
}

// ---- request framing ----

using Kind = UapiRequestReader::Kind;

struct Got {
  Kind kind;
  std::string body;
  bool operator==(const Got&) const = default;
};

// Drains every complete request; stops at "need more" or at an error (recorded as kind/body of
// an error marker so that the comparison shows where it happened).
bool drain(UapiRequestReader& r, std::vector<Got>& out, Error* error = nullptr) {
  while (auto next = r.next()) {
    if (!next->ok()) {
      if (error != nullptr) {
        *error = next->error();
      }
      return false;
    }
    out.push_back({(*next)->kind, (*next)->body});
  }
  return true;
}

const std::string kSetBody =
    "private_key=" + kPriv + "\nlisten_port=1\npublic_key=" + kPeer1 + "\nallowed_ip=10.0.0.0/8\n";
const std::string kPipelined =
    "get=1\n\nset=1\n" + kSetBody + "\nset=1\n\nget=1\n\nset=1\n" + "listen_port=2\n\n";
const std::vector<Got> kPipelinedRequests = {
    {Kind::kGet, ""}, {Kind::kSet, kSetBody},          {Kind::kSet, ""},
    {Kind::kGet, ""}, {Kind::kSet, "listen_port=2\n"},
};

TEST(UapiReader, SingleRequests) {
  UapiRequestReader r;
  EXPECT_FALSE(r.next());
  r.feed("get=1\n\n");
  std::vector<Got> got;
  EXPECT_TRUE(drain(r, got));
  EXPECT_EQ(got, (std::vector<Got>{{Kind::kGet, ""}}));

  UapiRequestReader s;
  s.feed("set=1\n" + kSetBody + "\n");
  got.clear();
  EXPECT_TRUE(drain(s, got));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, kSetBody);
  // The body is exactly what parse_uapi_set takes.
  auto parsed = parse_uapi_set(got[0].body);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->listen_port, 1);
}

TEST(UapiReader, PipelinedRequestsSplitAtEveryByteBoundary) {
  for (size_t cut = 0; cut <= kPipelined.size(); ++cut) {
    UapiRequestReader r;
    std::vector<Got> got;
    r.feed(std::string_view(kPipelined).substr(0, cut));
    ASSERT_TRUE(drain(r, got)) << "cut " << cut;
    r.feed(std::string_view(kPipelined).substr(cut));
    ASSERT_TRUE(drain(r, got)) << "cut " << cut;
    EXPECT_EQ(got, kPipelinedRequests) << "cut " << cut;
    EXPECT_FALSE(r.next());
  }
}

TEST(UapiReader, ByteAtATimeAndTwoCuts) {
  UapiRequestReader r;
  std::vector<Got> got;
  for (char c : kPipelined) {
    r.feed(std::string_view(&c, 1));
    ASSERT_TRUE(drain(r, got));
  }
  EXPECT_EQ(got, kPipelinedRequests);

  // Every pair of cuts on a shorter stream, to cover requests split in three.
  const std::string stream = "get=1\n\nset=1\na=b\n\nset=1\n\n";
  for (size_t i = 0; i <= stream.size(); ++i) {
    for (size_t j = i; j <= stream.size(); ++j) {
      UapiRequestReader q;
      std::vector<Got> g;
      q.feed(std::string_view(stream).substr(0, i));
      ASSERT_TRUE(drain(q, g));
      q.feed(std::string_view(stream).substr(i, j - i));
      ASSERT_TRUE(drain(q, g));
      q.feed(std::string_view(stream).substr(j));
      ASSERT_TRUE(drain(q, g));
      EXPECT_EQ(g, (std::vector<Got>{{Kind::kGet, ""}, {Kind::kSet, "a=b\n"}, {Kind::kSet, ""}}))
          << i << "," << j;
    }
  }
}

TEST(UapiReader, BadRequestsPoisonTheStream) {
  const std::vector<std::string> bad = {
      "put=1\n\n",   "GET=1\n\n",  "get=2\n\n", "get=1\nx\n", "get=1\r\n\r\n",
      "\nget=1\n\n", "set=1 \n\n", "g",         "set=1\r\n",  "get=1\n\nfoo",
  };
  for (const auto& input : bad) {
    UapiRequestReader r;
    std::vector<Got> got;
    Error error;
    r.feed(input);
    // Partial garbage ("g") is only refused once it can no longer become a request.
    if (drain(r, got, &error)) {
      r.feed("xxxxxxx\n\n");
      ASSERT_FALSE(drain(r, got, &error)) << input;
    }
    EXPECT_EQ(error.code, kUapiErrorProtocol) << input;
    EXPECT_FALSE(error.message.empty());
    // Poisoned for good: more valid input changes nothing.
    r.feed("get=1\n\n");
    auto again = r.next();
    ASSERT_TRUE(again);
    ASSERT_FALSE(again->ok());
    EXPECT_EQ(again->error().code, kUapiErrorProtocol);
    EXPECT_EQ(again->error().message, error.message);
  }
}

TEST(UapiReader, GarbageIsRefusedBeforeANewline) {
  // A client that never sends a newline must not be able to make us buffer forever.
  UapiRequestReader r;
  r.feed("HTTP");
  auto n = r.next();
  ASSERT_TRUE(n);
  EXPECT_FALSE(n->ok());
  EXPECT_EQ(n->error().message, "invalid request: expected get=1 or set=1");
}

TEST(UapiReader, GetWithTrailingBytesIsRefused) {
  UapiRequestReader r;
  r.feed("get=1\nlisten_port=1\n\n");
  auto n = r.next();
  ASSERT_TRUE(n);
  ASSERT_FALSE(n->ok());
  EXPECT_EQ(n->error().code, kUapiErrorProtocol);
}

TEST(UapiReader, OversizeSetIsRefused) {
  constexpr size_t kMax = UapiRequestReader::kMaxRequestBytes;
  // Exactly the limit (including "set=1\n" and the final empty line) is accepted.
  {
    UapiRequestReader r;
    std::string req = "set=1\n";
    const std::string line = "listen_port=1\n";
    while (req.size() + line.size() + 1 <= kMax) {
      req += line;
    }
    req += std::string(kMax - 1 - req.size() - 1, '9');  // one long final line
    req += "\n\n";
    ASSERT_EQ(req.size(), kMax);
    // Feed in 64 KiB chunks, as a socket would deliver it.
    std::vector<Got> got;
    for (size_t i = 0; i < req.size(); i += 65536) {
      r.feed(std::string_view(req).substr(i, 65536));
      ASSERT_TRUE(drain(r, got));
    }
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body.size(), kMax - 7);
  }
  // One byte more is refused, without waiting for the end of the request.
  {
    UapiRequestReader r;
    r.feed("set=1\n");
    const std::string chunk(65536, 'a');
    size_t fed = 6;
    std::optional<Result<UapiRequestReader::Request>> n;
    while (!(n = r.next()) && fed < 2 * kMax) {
      r.feed(chunk);
      fed += chunk.size();
    }
    ASSERT_TRUE(n);
    ASSERT_FALSE(n->ok());
    EXPECT_EQ(n->error().code, kUapiErrorProtocol);
    EXPECT_LE(fed, kMax + chunk.size());
  }
  {
    UapiRequestReader r;
    std::string req = "set=1\n" + std::string(kMax - 7, 'a') + "\n\n";  // kMax + 1 bytes
    r.feed(req);
    auto n = r.next();
    ASSERT_TRUE(n);
    ASSERT_FALSE(n->ok());
    EXPECT_EQ(n->error().code, kUapiErrorProtocol);
  }
}

TEST(UapiReader, ManySmallPipelinedRequestsStayLinear) {
  // 200 000 gets in one buffer: consuming them must not copy the buffer for each one.
  std::string stream;
  for (int i = 0; i < 200000; ++i) {
    stream += "get=1\n\n";
  }
  UapiRequestReader r;
  r.feed(stream);
  size_t n = 0;
  while (auto next = r.next()) {
    ASSERT_TRUE(next->ok());
    ++n;
  }
  EXPECT_EQ(n, 200000u);
}

}  // namespace
}  // namespace waypost::wireguard
