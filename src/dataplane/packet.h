#pragma once
// The data plane's packet types are the I/O layer's views (net/packet.h); these names keep the
// data-plane code reading in its own vocabulary.

#include "net/packet.h"

namespace waypost::dataplane {

using net::Datagram;
using net::DatagramSink;
using net::ip_version;
using net::kHeadroom;
using net::kMaxMtu;
using net::kSlotSize;
using net::kTailroom;
using net::Packet;
using net::PacketSink;

}  // namespace waypost::dataplane
