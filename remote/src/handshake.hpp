// The authenticated handshake (docs/wire-protocol.md, "Handshake"): fresh
// nonces, and proofs of a shared secret bound to both nonces, to the
// prover's role and to the identity it claims. A proof made by a node on
// one connection is never valid on another (the nonces differ) nor in the
// other direction (the role differs), so it cannot be replayed or reflected.
#pragma once

#include <string>
#include <string_view>

typedef struct ssl_st SSL;

namespace akt::remote::detail {

constexpr std::size_t nonce_size = 32;
constexpr std::size_t min_secret_size = 16;

// nonce_size bytes from OpenSSL's CSPRNG.
std::string fresh_nonce();

enum class handshake_role : char { initiator = 'I', acceptor = 'A' };

// HMAC-SHA256(secret, "akt-proof-v2" | role | initiator nonce | acceptor
// nonce | system | address), each variable field preceded by its length.
std::string make_proof(std::string_view secret, handshake_role prover, std::string_view initiator_nonce,
                       std::string_view acceptor_nonce, std::string_view system, std::string_view address);
// Constant-time comparison.
bool same_proof(std::string_view a, std::string_view b) noexcept;

// True when the peer certificate of `ssl` names the IP address `host`
// (subjectAltName IP, as X509_check_ip_asc checks it).
bool certificate_names_ip(SSL* ssl, const std::string& host);

}  // namespace akt::remote::detail
