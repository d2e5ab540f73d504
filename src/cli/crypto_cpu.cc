// Which of OpenSSL's ChaCha20-Poly1305 code paths the data plane runs on.
//
// libcrypto picks its ChaCha20 and Poly1305 assembly once, while it is being loaded, from the
// CPU's feature flags masked by the OPENSSL_ia32cap environment variable. On CPUs with AVX-512
// it takes the 512-bit (zmm) paths. On the lab's VMs (Xeon family 6 model 207, two vCPUs shared
// with other work) those paths were never clearly faster for the data plane and at times much
// slower: in ten interleaved pairs of 5 s single-stream Waypost<->Waypost runs (bench/run.sh)
// they averaged 1.75 Gbit/s against 2.04 without, with one stretch at 1.0 against 2.1-2.6 and
// the rest within the noise; `openssl speed -evp chacha20-poly1305 -bytes 1440` swung between
// ~0.4 and ~1.9 GB/s with them against a steadier ~1.3-1.7 GB/s without.
// WireGuard seals one packet (<= ~1.4 KB) per call, where the wide paths have little to gain;
// likely costs are the clock drop and throttling of heavy 512-bit code, and the dirty zmm16-31
// upper state (vzeroupper does not clear it) that the legacy-SSE code running between packets
// then pays for (the daemon's profile showed hot spots right after SSE instructions).
// Masking AVX512F leaves OpenSSL its 256-bit AVX-512VL / AVX2 code, which is what the Linux
// kernel's WireGuard uses too (its ChaCha20 has 256-bit AVX-512VL code only, and it kept 512-bit
// Poly1305 off Skylake-X because of the clock drop).
//
// The variable has to be in the environment before libcrypto is loaded, and setting it from an
// initializer of our own does not work (glibc's own initializer, which runs after the
// executable's .preinit_array, resets `environ` to the original block). So the long-running
// commands re-execute themselves once with it set:
//   OPENSSL_ia32cap already set -> left alone (the operator decided; also the re-exec marker)
//   WAYPOST_AVX512=1            -> AVX-512 paths kept
//   CPU without AVX512F         -> nothing to do

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "cli/commands.h"

namespace waypost::cli {

namespace {
bool is_data_plane_command(int argc, char** argv) {
  if (argc >= 2 && std::strcmp(argv[1], "up") == 0) return true;
  return argc >= 3 && std::strcmp(argv[1], "server") == 0 && std::strcmp(argv[2], "up") == 0;
}
}  // namespace

void prefer_narrow_crypto_paths(int argc, char** argv) {
  if (!is_data_plane_command(argc, argv)) return;
  if (std::getenv("OPENSSL_ia32cap") != nullptr) return;
  const char* keep = std::getenv("WAYPOST_AVX512");
  if (keep != nullptr && std::strcmp(keep, "1") == 0) return;
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx512f")) return;
  // The part after ':' masks the second capability word (CPUID leaf 7 EBX); bit 16 = AVX512F,
  // which gates every 512-bit path in OpenSSL 3.
  if (setenv("OPENSSL_ia32cap", ":~0x10000", 1) != 0) return;
  // Through the binary's real path rather than /proc/self/exe, which would rename the process
  // (its comm, as ps, top and the journal show it) to "exe".
  char path[4096];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
  if (n > 0) {
    path[n] = '\0';
    execv(path, argv);
  }
  // Could not re-execute (no /proc?): carry on as we are, with the default paths.
  unsetenv("OPENSSL_ia32cap");
#endif
}

}  // namespace waypost::cli
