// genkey, pubkey, genpsk: the same text formats as wg(8).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>

#include "cli/commands.h"
#include "crypto/random.h"
#include "crypto/x25519.h"

namespace waypost::cli {

namespace {

// If stdout is a regular file (`waypost genkey > key`), make it private before writing a secret.
void protect_stdout() {
  struct stat st {};
  if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0) {
    if (fchmod(STDOUT_FILENO, 0600) != 0) {
      std::fprintf(stderr, "waypost: warning: writing a secret to a file others can read\n");
    }
  }
}

void print_secret(const crypto::PrivateKey& key) {
  protect_stdout();
  std::string line = crypto::key_to_base64(key.span()) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  secure_wipe(line.data(), line.size());
}

}  // namespace

void register_key_commands(CLI::App& app) {
  app.add_subcommand("genkey", "Print a new private key (base64)")->callback([]() {
    crypto::PrivateKey key;
    crypto::system_random().fill(key.span());
    crypto::clamp_private_key(key);
    print_secret(key);
  });
  app.add_subcommand("genpsk", "Print a new preshared key (base64)")->callback([]() {
    crypto::PrivateKey key;
    crypto::system_random().fill(key.span());
    print_secret(key);
  });
  app.add_subcommand("pubkey", "Read a private key on stdin, print its public key")->callback([]() {
    std::string line;
    std::getline(std::cin, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    auto key = crypto::private_key_from_base64(line);
    secure_wipe(line.data(), line.size());
    if (!key) std::exit(fail("pubkey: " + key.error().message));
    std::printf("%s\n", crypto::key_to_base64(crypto::public_from_private(*key)).c_str());
  });
}

}  // namespace waypost::cli
