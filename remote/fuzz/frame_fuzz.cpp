// libFuzzer target: the frame and envelope decoder, and the receiving side
// of interned strings, must never crash, read out of bounds or loop on any
// bytes; the stream tell's shortcut parser must agree with the general one. Run by ./run test (30 s, clang):
//   clang++ -fsanitize=fuzzer,address,undefined ... && frame_fuzz -max_total_time=30
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "codec.hpp"
#include "interning.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace akt::remote::detail;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  frame_view frame;
  inbound_interns interned;  // one connection's table, across its frames
  std::string why;
  // As a connection would: take frames off the front until one is incomplete or bad.
  for (int i = 0; i < 1024; ++i) {
    std::size_t used = 0;
    const decode_status s = decode_frame(in, 1 << 20, frame, used);
    if (s != decode_status::frame) break;
    if (used == 0 || used > in.size()) __builtin_trap();  // must always make progress within bounds
    if (frame.kind == frame_kind::envelope) {
      envelope_view& e = frame.envelope;
      // As node::on_frame: a frame whose ids break the rules closes the connection.
      if (!interned.resolve(interned_kind::receiver, e.receiver, e.receiver_id, why) ||
          !interned.resolve(interned_kind::sender, e.sender, e.sender_id, why) ||
          !interned.resolve(interned_kind::type, e.type, e.type_id, why)) {
        if (why.empty()) __builtin_trap();  // a refusal always says why
        break;
      }
      if ((e.receiver_id != 0 && e.receiver.empty()) || (e.type_id != 0 && e.type.empty())) __builtin_trap();
      // Touch every view: ASan catches any that points outside the input or the table.
      std::size_t sum = 0;
      for (auto v : {frame.envelope.receiver, frame.envelope.sender, frame.envelope.type,
                     frame.envelope.payload, frame.envelope.error_message, frame.envelope.traceparent}) {
        for (char c : v) sum += static_cast<unsigned char>(c);
      }
      if (sum == 0xdeadbeef) __builtin_trap();
    }
    in.remove_prefix(used);
  }
  // The reader's fast lane for a stream's tell: what it takes at the front
  // of the input, the general decoder reads the same.
  {
    const std::string_view whole(reinterpret_cast<const char*>(data), size);
    interned_tell t;
    if (const std::size_t taken = take_interned_tell(whole, t); taken != 0) {
      frame_view g;
      std::size_t used = 0;
      if (decode_frame(whole, 1 << 20, g, used) != decode_status::frame || used != taken ||
          g.kind != frame_kind::envelope || g.envelope.kind != envelope_kind::tell ||
          !g.envelope.receiver.empty() || !g.envelope.sender.empty() || !g.envelope.type.empty() ||
          g.envelope.payload != t.payload || g.envelope.receiver_id != t.receiver_id ||
          g.envelope.sender_id != t.sender_id || g.envelope.type_id != t.type_id)
        __builtin_trap();
    }
  }
  // The body parser on its own, without the length prefix; its shortcut for
  // a stream's tell must agree with the general parser on every input.
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  frame_view general;
  const bool ok = parse_frame(body, frame);
  if (ok != parse_frame_general(body, general)) __builtin_trap();
  if (ok && frame.kind == frame_kind::envelope) {
    const envelope_view& a = frame.envelope;
    const envelope_view& b = general.envelope;
    if (general.kind != frame_kind::envelope || a.kind != b.kind || a.payload != b.payload ||
        a.receiver != b.receiver || a.sender != b.sender || a.type != b.type ||
        a.receiver_id != b.receiver_id || a.sender_id != b.sender_id || a.type_id != b.type_id ||
        a.correlation_id != b.correlation_id || a.traceparent != b.traceparent)
      __builtin_trap();
  }
  return 0;
}
