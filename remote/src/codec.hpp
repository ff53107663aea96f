// The wire codec for the hot path: frames are encoded and decoded by hand
// (the protobuf wire format of akt_wire.proto, field for field), with no
// allocation per message: decoding yields views into the read buffer, and
// encoding writes straight into the send buffer. The .proto stays the
// contract; a test checks this codec against the generated classes.
//
// decode_* functions are pure functions over bytes and never trust them:
// every length is checked, unknown fields are skipped, anything else is
// `malformed` (fuzzed in tests/codec_fuzz.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "byte_queue.hpp"

namespace akt::remote::detail {

constexpr std::uint32_t protocol_version = 3;

// The longest `tracestate` a node writes or accepts (W3C's propagation
// floor): a longer one from the network is dropped, the message kept.
constexpr std::size_t max_tracestate_bytes = 512;

enum class envelope_kind : std::uint32_t {
  tell = 0,
  ask = 1,
  reply = 2,
  failure = 3,
  lookup = 4,
  stop = 5,
  watch = 6,
  unwatch = 7,
  terminated = 8,
  spawn = 9
};

struct envelope_view {
  envelope_kind kind = envelope_kind::tell;
  std::string_view receiver, sender, type, payload, error_message, traceparent, tracestate;
  std::uint64_t correlation_id = 0;
  std::uint64_t timeout_us = 0;
  std::uint32_t error_code = 0;
  // Interned strings (interning.hpp): with the string, a definition of the
  // id; alone, a use. 0: not interned.
  std::uint32_t receiver_id = 0, sender_id = 0, type_id = 0;
};

struct hello_view {
  std::uint32_t protocol_version = 0;
  std::string_view system, address;
  std::string_view nonce;  // fresh random bytes of this connection's sender
  bool secret = false;     // the sender will prove a shared secret (a Proof follows)
};

// Credit for `bytes` of frames to `receiver` that its actor has taken.
struct credit_view {
  std::string_view receiver;
  std::uint64_t bytes = 0;
};

enum class frame_kind { hello, envelope, heartbeat, proof, credit };

struct frame_view {
  frame_kind kind = frame_kind::heartbeat;
  hello_view hello;
  envelope_view envelope;
  std::string_view proof;  // frame_kind::proof: the MAC
  credit_view credit;
};

// Appends one whole frame (4-byte big-endian length, then the Frame bytes)
// to `out`: a std::string, or a connection's byte_queue (no zero-fill);
// instantiated for those two in codec.cpp.
// `payload` is written as the envelope's payload field.
template <class Out>
void append_envelope_frame(Out& out, const envelope_view& e);
// A payload written straight into the frame, its size known up front: a
// remote tell copies in what it serialized before taking the queue's lock
// (a small payload) or serializes the caller's object into the queue (a
// large one: no intermediate copy).
struct payload_writer {
  std::size_t size;
  void (*write)(const void* ctx, std::uint8_t* out);  // exactly `size` bytes
  const void* ctx;
};
// As above, with the payload (field 5) produced by `payload`; e.payload is ignored.
template <class Out>
void append_envelope_frame(Out& out, const envelope_view& e, const payload_writer& payload);
template <class Out>
void append_hello_frame(Out& out, const hello_view& hello);
template <class Out>
void append_proof_frame(Out& out, std::string_view mac);
template <class Out>
void append_credit_frame(Out& out, std::string_view receiver, std::uint64_t bytes);
template <class Out>
void append_heartbeat_frame(Out& out, std::uint64_t sent_at_us);

enum class decode_status { frame, need_more, too_large, malformed };

// Takes the frame at the front of `in` (views point into `in`).
decode_status decode_frame(std::string_view in, std::size_t max_frame_bytes, frame_view& out,
                           std::size_t& consumed);
// A stream's tell as it usually comes (append_envelope_frame writes it so
// when every string is interned): the payload and the ids, nothing else,
// in a frame under 128 bytes.
struct interned_tell {
  std::string_view payload;
  std::uint32_t receiver_id = 0, sender_id = 0, type_id = 0;
};
// The size of the frame at the front of `in` (its header included) when it
// is whole and such a tell, with `out` filled; otherwise 0, and the frame
// is for decode_frame (which alone says what is malformed). No frame limit
// applies below 128 bytes.
std::size_t take_interned_tell(std::string_view in, interned_tell& out) noexcept;

// Parses the bytes of one Frame message (without the length prefix).
bool parse_frame(std::string_view body, frame_view& out);
// The same without the stream tell's shortcut: every field in a loop
// (tests compare the two).
bool parse_frame_general(std::string_view body, frame_view& out);

}  // namespace akt::remote::detail
