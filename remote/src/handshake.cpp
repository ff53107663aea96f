#include "handshake.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdint>
#include <stdexcept>

namespace akt::remote::detail {

std::string fresh_nonce() {
  std::string n(nonce_size, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(n.data()), static_cast<int>(n.size())) != 1) {
    throw std::runtime_error("remoting: the system's random generator failed");
  }
  return n;
}

namespace {
void append_field(std::string& out, std::string_view field) {
  const auto n = static_cast<std::uint32_t>(field.size());
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(field);
}
}  // namespace

std::string make_proof(std::string_view secret, handshake_role prover, std::string_view initiator_nonce,
                       std::string_view acceptor_nonce, std::string_view system, std::string_view address) {
  std::string transcript = "akt-proof-v2";
  transcript.push_back(static_cast<char>(prover));
  append_field(transcript, initiator_nonce);
  append_field(transcript, acceptor_nonce);
  append_field(transcript, system);
  append_field(transcript, address);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(transcript.data()), transcript.size(), mac,
           &size) == nullptr) {
    throw std::runtime_error("remoting: HMAC-SHA256 failed");
  }
  return std::string(reinterpret_cast<const char*>(mac), size);
}

bool same_proof(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && !a.empty() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool certificate_names_ip(SSL* ssl, const std::string& host) {
  if (ssl == nullptr) return false;
  X509* cert = SSL_get_peer_certificate(ssl);
  if (cert == nullptr) return false;
  const bool ok = X509_check_ip_asc(cert, host.c_str(), 0) == 1;
  X509_free(cert);
  return ok;
}

}  // namespace akt::remote::detail
