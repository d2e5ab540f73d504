#pragma once
// The way in: datagrams from the UDP socket are classified; transport data is opened in place
// (on crypto workers when the batch is big enough) and its inner packets handed to the router,
// handshake messages go to the HandshakeEngine. Three phases, so that decryption can run on
// several cores while everything stateful stays on the loop thread, in arrival order: classify
// and look up sessions; open; then replay windows, timers, endpoints and delivery.

#include <memory>
#include <span>
#include <vector>

#include "common/clock.h"
#include "common/work_pool.h"
#include "dataplane/packet.h"
#include "dataplane/path_prober.h"
#include "dataplane/router.h"
#include "wireguard/crypto_batch.h"
#include "wireguard/device_counters.h"
#include "wireguard/handshake_engine.h"
#include "wireguard/index_table.h"
#include "wireguard/send_path.h"

namespace waypost::wireguard {

class ReceivePath {
 public:
  struct Environment {
    const Clock& clock;
    IndexTable& indexes;
    HandshakeEngine& handshakes;
    SendPath& send;
    dataplane::Router& router;
    dataplane::PathProber& prober;
    WorkPool* pool;
    DeviceCounters& counters;
  };
  explicit ReceivePath(Environment env) : env_(env) { jobs_.reserve(1024); }

  void receive(std::span<dataplane::Datagram> datagrams);

 private:
  void prepare_open(dataplane::Datagram& d, uint32_t batch_index);
  void finish_open(const CryptoJob& job, dataplane::Datagram& d);

  Environment env_;
  std::vector<CryptoJob> jobs_;
  // Keypairs rotated out while a batch is in flight stay alive until it is done.
  std::vector<std::unique_ptr<Keypair>> retired_;
};

}  // namespace waypost::wireguard
