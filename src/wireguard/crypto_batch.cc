#include "wireguard/crypto_batch.h"

#include "crypto/aead.h"
#include "wireguard/keypair.h"

namespace waypost::wireguard {

namespace {

struct CryptoBatch {
  std::vector<CryptoJob>* jobs;
  bool seal;
  bool parallel;  // workers take part: use per-thread contexts keyed per packet
};

void crypto_slice(void* context, size_t begin, size_t end) {
  auto* batch = static_cast<CryptoBatch*>(context);
  for (size_t i = begin; i < end; ++i) {
    CryptoJob& j = (*batch->jobs)[i];
    Keypair& kp = *j.keypair;
    if (batch->seal) {
      j.ok = batch->parallel
                 ? crypto::seal_in_place(kp.send_key.span(), j.counter, j.data, j.length)
                 : kp.sender.seal(j.counter, {j.data, j.length},
                                  {j.data, j.length + crypto::kAeadTagSize});
    } else {
      j.ok = batch->parallel
                 ? crypto::open_in_place(kp.receive_key.span(), j.counter, j.data, j.length)
                 : kp.receiver.open(j.counter, {j.data, j.length + crypto::kAeadTagSize},
                                    {j.data, j.length});
    }
  }
}

}  // namespace

void run_crypto(WorkPool* pool, std::vector<CryptoJob>& jobs, bool seal) {
  constexpr size_t kMinParallel = 8;
  const bool parallel = pool != nullptr && pool->workers() > 0 && jobs.size() >= kMinParallel;
  CryptoBatch batch{&jobs, seal, parallel};
  if (parallel) {
    pool->run(jobs.size(), &crypto_slice, &batch, kMinParallel);
  } else {
    crypto_slice(&batch, 0, jobs.size());
  }
}

}  // namespace waypost::wireguard
