// The hand-written codec against protoc's classes of akt_wire.proto: what
// one writes the other reads, field for field; and bad bytes are refused.
#include <gtest/gtest.h>

#include <cstring>

#include <random>

#include "akt_wire.pb.h"
#include "codec.hpp"
#include "interning.hpp"

namespace {

using namespace akt::remote::detail;

std::string body_of(const std::string& frame) {
  return frame.substr(4);
}

TEST(codec, an_envelope_we_write_is_read_by_protoc_classes) {
  envelope_view e;
  e.kind = envelope_kind::ask;
  e.receiver = "akt://beta@127.0.0.1:4000/calc";
  e.sender = "akt://alpha@127.0.0.1:4001/asker";
  e.type = "demo.Add";
  e.payload = std::string_view("\x08\x28\x10\x02", 4);
  e.correlation_id = 1234567890123ULL;
  e.timeout_us = 5'000'000;
  std::string out;
  append_envelope_frame(out, e);
  akt::wire::Frame f;
  ASSERT_TRUE(f.ParseFromString(body_of(out)));
  ASSERT_EQ(f.body_case(), akt::wire::Frame::kEnvelope);
  const auto& w = f.envelope();
  EXPECT_EQ(w.kind(), akt::wire::KIND_ASK);
  EXPECT_EQ(w.receiver(), e.receiver);
  EXPECT_EQ(w.sender(), e.sender);
  EXPECT_EQ(w.type(), e.type);
  EXPECT_EQ(w.payload(), e.payload);
  EXPECT_EQ(w.correlation_id(), e.correlation_id);
  EXPECT_EQ(w.timeout_us(), e.timeout_us);
  const std::uint32_t len = (static_cast<unsigned char>(out[0]) << 24) |
                            (static_cast<unsigned char>(out[1]) << 16) |
                            (static_cast<unsigned char>(out[2]) << 8) | static_cast<unsigned char>(out[3]);
  EXPECT_EQ(len, out.size() - 4);
}

TEST(codec, a_payload_written_in_place_gives_the_same_bytes_as_a_payload_view) {
  envelope_view e;
  e.kind = envelope_kind::tell;
  e.receiver = "akt://beta@127.0.0.1:4000/calc";
  e.type = "demo.Add";
  const std::string payload("\x08\x28\x10\x02", 4);
  std::string in_place = "prefix";  // appended after what is there
  const payload_writer writer{payload.size(),
                              [](const void* ctx, std::uint8_t* out) {
                                const auto* p = static_cast<const std::string*>(ctx);
                                std::memcpy(out, p->data(), p->size());
                              },
                              &payload};
  append_envelope_frame(in_place, e, writer);
  e.payload = payload;
  std::string from_view = "prefix";
  append_envelope_frame(from_view, e);
  EXPECT_EQ(in_place, from_view);
  // An empty payload writes no field at all (proto3 default).
  std::string empty_in_place, empty_view;
  append_envelope_frame(empty_in_place, e, payload_writer{0, nullptr, nullptr});
  e.payload = {};
  append_envelope_frame(empty_view, e);
  EXPECT_EQ(empty_in_place, empty_view);
}

// A stream's tell (every string interned) takes a shorter encoder: its
// bytes must be exactly protoc's, for ids and payloads of every varint
// length, and with each id absent.
TEST(codec, a_connections_queue_gets_the_same_bytes_as_a_string) {
  // Every encoder writes the same frames into a byte_queue (no zero-fill)
  // as into a string, one after another in one buffer as a connection
  // queues them, through growth from empty.
  envelope_view ask;
  ask.kind = envelope_kind::ask;
  ask.receiver = "akt://beta@127.0.0.1:4000/calc";
  ask.type = "demo.Add";
  ask.payload = std::string_view("\x08\x28\x10\x02", 4);
  ask.correlation_id = 77;
  envelope_view tell;
  tell.payload = std::string(300, 'p');
  tell.receiver_id = 3;
  tell.type_id = 200;  // a two-byte varint
  const std::string big(70'000, 'b');
  const payload_writer in_place{big.size(),
                                [](const void* ctx, std::uint8_t* to) {
                                  const auto* b = static_cast<const std::string*>(ctx);
                                  std::memcpy(to, b->data(), b->size());
                                },
                                &big};
  std::string as_string;
  byte_queue queue;
  for (int round = 0; round < 3; ++round) {
    append_envelope_frame(as_string, ask);
    append_envelope_frame(queue, ask);
    append_envelope_frame(as_string, tell, in_place);
    append_envelope_frame(queue, tell, in_place);
    append_hello_frame(as_string, hello_view{.protocol_version = 3, .system = "a", .address = "127.0.0.1:1"});
    append_hello_frame(queue, hello_view{.protocol_version = 3, .system = "a", .address = "127.0.0.1:1"});
    append_proof_frame(as_string, std::string(32, 'm'));
    append_proof_frame(queue, std::string(32, 'm'));
    append_credit_frame(as_string, ask.receiver, 65'536);
    append_credit_frame(queue, ask.receiver, 65'536);
    append_heartbeat_frame(as_string, 123);
    append_heartbeat_frame(queue, 123);
  }
  ASSERT_EQ(queue.size(), as_string.size());
  EXPECT_TRUE(queue.view() == as_string);
}

TEST(byte_queue, extends_appends_erases_the_front_and_swaps_keeping_its_bytes) {
  byte_queue q;
  EXPECT_TRUE(q.empty());
  q.append("hello ");
  std::memcpy(q.extend(5), "world", 5);
  EXPECT_EQ(q.view(), "hello world");
  q.erase_front(6);
  EXPECT_EQ(q.view(), "world");
  std::string long_one(100'000, 'x');  // grows past any first capacity
  q.append(long_one);
  EXPECT_EQ(q.size(), 5 + long_one.size());
  EXPECT_EQ(q.view().substr(0, 6), "worldx");
  byte_queue other;
  other.append("other");
  q.swap(other);
  EXPECT_EQ(q.view(), "other");
  EXPECT_EQ(other.size(), 5 + long_one.size());
  other.erase_front(other.size() + 10);  // more than it holds: empty, not past it
  EXPECT_TRUE(other.empty());
  other.append("again");
  EXPECT_EQ(other.view(), "again");
  q.clear();
  EXPECT_TRUE(q.empty());
  q.append({});
  EXPECT_TRUE(q.empty());
}

TEST(codec, an_interned_tell_is_byte_for_byte_what_protoc_writes) {
  const std::uint32_t ids[] = {0, 1, 127, 128, 4095, 16384, 0xffffffffu};
  const std::size_t payload_sizes[] = {0, 1, 38, 127, 128, 20000};
  for (std::uint32_t receiver : ids) {
    for (std::uint32_t type : ids) {
      for (std::size_t size : payload_sizes) {
        const std::uint32_t sender = receiver == 1 ? 0 : 300;
        envelope_view e;
        e.receiver_id = receiver;
        e.sender_id = sender;
        e.type_id = type;
        const std::string payload(size, 'p');
        e.payload = payload;
        std::string ours = "x";  // appended after what is there
        append_envelope_frame(ours, e);

        akt::wire::Frame f;
        auto* w = f.mutable_envelope();
        w->set_receiver_id(receiver);
        w->set_sender_id(sender);
        w->set_type_id(type);
        w->set_payload(payload);
        const std::string body = f.SerializeAsString();
        ASSERT_EQ(ours.substr(5), body) << receiver << " " << type << " " << size;
        const std::uint32_t len =
            (static_cast<unsigned char>(ours[1]) << 24) | (static_cast<unsigned char>(ours[2]) << 16) |
            (static_cast<unsigned char>(ours[3]) << 8) | static_cast<unsigned char>(ours[4]);
        ASSERT_EQ(len, body.size());
      }
    }
  }
}

// The stream's tell has a parser of its own (no field loop): on every
// prefix and every one-byte change of such frames it must agree with the
// general parser, field for field, and on what is malformed.
TEST(codec, the_interned_tell_parser_agrees_with_the_general_one) {
  const auto same = [](const frame_view& a, const frame_view& b) {
    const envelope_view& x = a.envelope;
    const envelope_view& y = b.envelope;
    return a.kind == b.kind && x.kind == y.kind && x.receiver == y.receiver && x.sender == y.sender &&
           x.type == y.type && x.payload == y.payload && x.correlation_id == y.correlation_id &&
           x.timeout_us == y.timeout_us && x.error_code == y.error_code &&
           x.error_message == y.error_message && x.traceparent == y.traceparent &&
           x.tracestate == y.tracestate && x.receiver_id == y.receiver_id && x.sender_id == y.sender_id &&
           x.type_id == y.type_id;
  };
  std::mt19937 rng(7);
  for (std::uint32_t receiver : {0u, 1u, 200u, 0xffffffffu}) {
    for (std::uint32_t type : {0u, 3u, 70000u}) {
      for (std::size_t size : {std::size_t{0}, std::size_t{38}, std::size_t{300}}) {
        envelope_view e;
        e.receiver_id = receiver;
        e.sender_id = receiver == 1 ? 9 : 0;
        e.type_id = type;
        const std::string payload(size, 'q');
        e.payload = payload;
        std::string frame;
        append_envelope_frame(frame, e);
        const std::string body = body_of(frame);
        std::vector<std::string> variants{body};
        for (std::size_t cut = 0; cut < body.size(); ++cut) variants.push_back(body.substr(0, cut));
        for (int i = 0; i < 200; ++i) {
          std::string v = body;
          v[rng() % v.size()] = static_cast<char>(rng());
          variants.push_back(v);
        }
        for (const std::string& v : variants) {
          frame_view fast, general;
          const bool fast_ok = parse_frame(v, fast);
          const bool general_ok = parse_frame_general(v, general);
          ASSERT_EQ(fast_ok, general_ok);
          if (fast_ok) {
            ASSERT_TRUE(same(fast, general));
          }
          // The reader's fast lane (take_interned_tell, header and all): what
          // it takes, the general decoder reads the same, to the byte.
          std::string whole(4, '\0');
          whole[2] = static_cast<char>(v.size() >> 8);
          whole[3] = static_cast<char>(v.size());
          whole += v;
          whole += "trailing frames";
          interned_tell t;
          if (const std::size_t taken = take_interned_tell(whole, t); taken != 0) {
            ASSERT_EQ(taken, 4 + v.size());
            ASSERT_TRUE(general_ok);
            const envelope_view& g = general.envelope;
            ASSERT_EQ(general.kind, frame_kind::envelope);
            ASSERT_EQ(g.kind, envelope_kind::tell);
            ASSERT_TRUE(g.receiver.empty() && g.sender.empty() && g.type.empty());
            ASSERT_EQ(t.payload, g.payload);
            ASSERT_EQ(t.receiver_id, g.receiver_id);
            ASSERT_EQ(t.sender_id, g.sender_id);
            ASSERT_EQ(t.type_id, g.type_id);
          } else if (v == body && v.size() < 128) {
            FAIL() << "a whole stream tell under 128 bytes is for the fast lane";
          }
        }
      }
    }
  }
}

TEST(codec, what_protoc_classes_write_we_read) {
  akt::wire::Frame f;
  auto* w = f.mutable_envelope();
  w->set_kind(akt::wire::KIND_FAILURE);
  w->set_correlation_id(99);
  w->set_error_code(2);
  w->set_error_message("no actor named 'x'");
  w->set_traceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  std::string body;
  ASSERT_TRUE(f.SerializeToString(&body));
  frame_view v;
  ASSERT_TRUE(parse_frame(body, v));
  ASSERT_EQ(v.kind, frame_kind::envelope);
  EXPECT_EQ(v.envelope.kind, envelope_kind::failure);
  EXPECT_EQ(v.envelope.correlation_id, 99u);
  EXPECT_EQ(v.envelope.error_code, 2u);
  EXPECT_EQ(v.envelope.error_message, "no actor named 'x'");
  EXPECT_EQ(v.envelope.traceparent, w->traceparent());
}

TEST(codec, tracestate_travels_beside_traceparent_both_ways) {
  envelope_view e;
  e.kind = envelope_kind::tell;
  e.receiver = "akt://beta@127.0.0.1:4000/calc";
  e.type = "demo.Add";
  e.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  e.tracestate = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";
  std::string out;
  append_envelope_frame(out, e);
  akt::wire::Frame f;
  ASSERT_TRUE(f.ParseFromString(body_of(out)));
  EXPECT_EQ(f.envelope().traceparent(), e.traceparent);
  EXPECT_EQ(f.envelope().tracestate(), e.tracestate);
  frame_view v;
  std::size_t used = 0;
  ASSERT_EQ(decode_frame(out, 1 << 20, v, used), decode_status::frame);
  EXPECT_EQ(v.envelope.traceparent, e.traceparent);
  EXPECT_EQ(v.envelope.tracestate, e.tracestate);

  // What protoc writes we read; without a tracestate none is read (and an
  // older peer, which skips field 11, reads the rest as before).
  f.mutable_envelope()->set_tracestate("vendor=value");
  std::string body;
  ASSERT_TRUE(f.SerializeToString(&body));
  ASSERT_TRUE(parse_frame(body, v));
  EXPECT_EQ(v.envelope.tracestate, "vendor=value");
  f.mutable_envelope()->clear_tracestate();
  ASSERT_TRUE(f.SerializeToString(&body));
  ASSERT_TRUE(parse_frame(body, v));
  EXPECT_TRUE(v.envelope.tracestate.empty());
  EXPECT_EQ(v.envelope.traceparent, e.traceparent);
}

TEST(codec, interned_ids_we_write_are_read_by_protoc_classes_and_back) {
  // A definition (string and id), then a use (id alone), as a sender writes them.
  envelope_view e;
  e.kind = envelope_kind::tell;
  e.receiver = "akt://beta@127.0.0.1:4000/calc";
  e.receiver_id = 1;
  e.sender_id = 4096;
  e.type = "demo.Add";
  e.type_id = 300;  // two varint bytes
  e.payload = std::string_view("\x08\x28", 2);
  std::string out;
  append_envelope_frame(out, e);
  akt::wire::Frame f;
  ASSERT_TRUE(f.ParseFromString(body_of(out)));
  const auto& w = f.envelope();
  EXPECT_EQ(w.receiver(), e.receiver);
  EXPECT_EQ(w.receiver_id(), 1u);
  EXPECT_TRUE(w.sender().empty());
  EXPECT_EQ(w.sender_id(), 4096u);
  EXPECT_EQ(w.type(), e.type);
  EXPECT_EQ(w.type_id(), 300u);
  EXPECT_EQ(w.payload(), e.payload);

  akt::wire::Frame g;
  auto* u = g.mutable_envelope();
  u->set_kind(akt::wire::KIND_ASK);
  u->set_receiver_id(7);
  u->set_sender_id(0xffffffffu);
  u->set_type_id(2);
  u->set_correlation_id(5);
  std::string body;
  ASSERT_TRUE(g.SerializeToString(&body));
  EXPECT_EQ(body, body_of([] {
              envelope_view v;
              v.kind = envelope_kind::ask;
              v.receiver_id = 7;
              v.sender_id = 0xffffffffu;
              v.type_id = 2;
              v.correlation_id = 5;
              std::string frame;
              append_envelope_frame(frame, v);
              return frame;
            }()))
      << "the same bytes as protoc, field for field";
  frame_view v;
  ASSERT_TRUE(parse_frame(body, v));
  EXPECT_EQ(v.envelope.receiver_id, 7u);
  EXPECT_EQ(v.envelope.sender_id, 0xffffffffu);
  EXPECT_EQ(v.envelope.type_id, 2u);
  EXPECT_TRUE(v.envelope.receiver.empty());
  EXPECT_TRUE(v.envelope.type.empty());

  // An id over 32 bits is malformed (field 12, varint 2^32).
  const std::string too_big("\x12\x06\x60\x80\x80\x80\x80\x10", 8);
  EXPECT_FALSE(parse_frame(too_big, v));
}

TEST(codec, envelopes_with_only_rare_fields_are_byte_for_byte_what_protoc_writes) {
  // The encoder skips fields 6-11 together when all are absent; each one
  // alone must still be written exactly as protoc writes it.
  for (int field = 6; field <= 11; ++field) {
    SCOPED_TRACE(field);
    envelope_view e;
    e.kind = envelope_kind::failure;
    e.receiver_id = 3;
    akt::wire::Frame f;
    auto* w = f.mutable_envelope();
    w->set_kind(akt::wire::KIND_FAILURE);
    w->set_receiver_id(3);
    switch (field) {
      case 6:
        e.correlation_id = 1ULL << 40;
        w->set_correlation_id(e.correlation_id);
        break;
      case 7:
        e.timeout_us = 5;
        w->set_timeout_us(5);
        break;
      case 8:
        e.error_code = 19;
        w->set_error_code(19);
        break;
      case 9:
        e.error_message = "not permitted";
        w->set_error_message("not permitted");
        break;
      case 10:
        e.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        w->set_traceparent(std::string(e.traceparent));
        break;
      default:
        e.tracestate = "k=v";
        w->set_tracestate("k=v");
        break;
    }
    std::string out, body;
    append_envelope_frame(out, e);
    ASSERT_TRUE(f.SerializeToString(&body));
    EXPECT_EQ(body_of(out), body);
  }
}

TEST(codec, a_sender_defines_each_string_once_then_sends_its_id) {
  outbound_interns out;
  std::string_view s = "akt://beta@127.0.0.1:4000/calc";
  std::uint32_t id = 0;
  std::uint32_t slot_id = 0;
  out.apply(interned_kind::receiver, s, id, &slot_id);
  EXPECT_EQ(id, 1u);
  EXPECT_EQ(s, "akt://beta@127.0.0.1:4000/calc") << "the first use is a definition";
  EXPECT_EQ(slot_id, 1u);
  s = "akt://beta@127.0.0.1:4000/calc";
  out.apply(interned_kind::receiver, s, id, &slot_id);
  EXPECT_EQ(id, 1u);
  EXPECT_TRUE(s.empty()) << "later uses carry the id alone";
  std::uint32_t other_slot = 0;  // a new slot for the same receiver finds its id
  s = "akt://beta@127.0.0.1:4000/calc";
  out.apply(interned_kind::receiver, s, id, &other_slot);
  EXPECT_EQ(id, 1u);
  EXPECT_TRUE(s.empty());
  EXPECT_EQ(other_slot, 1u);

  // Kinds count apart; the empty string is never interned.
  s = "demo.Add";
  out.apply(interned_kind::type, s, id);
  EXPECT_EQ(id, 1u);
  EXPECT_EQ(s, "demo.Add");
  s = "demo.Sum";
  out.apply(interned_kind::type, s, id);
  EXPECT_EQ(id, 2u);
  s = "demo.Add";
  out.apply(interned_kind::type, s, id);
  EXPECT_EQ(id, 1u);
  EXPECT_TRUE(s.empty());
  s = {};
  out.apply(interned_kind::sender, s, id);
  EXPECT_EQ(id, 0u);

  // Past the bounds, strings travel in full.
  const std::string long_one(max_interned_bytes + 1, 'x');
  s = long_one;
  out.apply(interned_kind::sender, s, id);
  EXPECT_EQ(id, 0u);
  EXPECT_EQ(s, long_one);
  for (std::uint32_t i = 3; i <= max_interned_ids; ++i) {
    const std::string name = "t" + std::to_string(i);
    s = name;
    out.apply(interned_kind::type, s, id);
    ASSERT_EQ(id, i);
  }
  s = "one.Too.Many";
  out.apply(interned_kind::type, s, id);
  EXPECT_EQ(id, 0u);
  EXPECT_EQ(s, "one.Too.Many");
}

TEST(codec, a_frame_undone_forgets_the_ids_it_defined_and_nothing_else) {
  outbound_interns out;
  // Interns `str`: its id, and whether this was its definition (the string goes along).
  struct interned {
    std::uint32_t id;
    bool defined;
    bool operator==(const interned&) const = default;
  };
  const auto put = [&](interned_kind kind, std::string_view str, bool is_static = false) {
    std::uint32_t id = 0;
    is_static ? out.apply_static(kind, str, id) : out.apply(kind, str, id);
    return interned{id, !str.empty()};
  };
  static const std::string type_name = "demo.Greet";  // storage that never moves, as a descriptor's
  static const std::string other = "demo.Other";
  out.begin_frame();
  ASSERT_EQ(put(interned_kind::receiver, "akt://beta@127.0.0.1:4000/a"), (interned{1, true}));
  ASSERT_EQ(put(interned_kind::type, type_name, true), (interned{1, true}));

  // The next frame defines a receiver and a sender (for a slot that caches
  // it), uses the type, then fails.
  out.begin_frame();
  ASSERT_EQ(put(interned_kind::receiver, "akt://beta@127.0.0.1:4000/b"), (interned{2, true}));
  std::uint32_t cached = 0;
  std::string_view sender = "akt://alpha@127.0.0.1:3000/sender";
  std::uint32_t sender_id = 0;
  out.apply(interned_kind::sender, sender, sender_id, &cached);
  ASSERT_EQ(sender_id, 1u);
  ASSERT_EQ(put(interned_kind::type, type_name, true), (interned{1, false}));
  out.undo_frame();
  EXPECT_EQ(out.defined(interned_kind::receiver), 1u);
  EXPECT_EQ(out.defined(interned_kind::sender), 0u);
  EXPECT_EQ(out.defined(interned_kind::type), 1u) << "a use is not undone";

  // Its strings are defined again, with the same ids; the others are still uses.
  out.begin_frame();
  EXPECT_EQ(put(interned_kind::receiver, "akt://beta@127.0.0.1:4000/b"), (interned{2, true}))
      << "a definition again, not a use of an id the peer never got";
  EXPECT_EQ(put(interned_kind::sender, "akt://alpha@127.0.0.1:3000/sender"), (interned{1, true}));
  EXPECT_EQ(put(interned_kind::receiver, "akt://beta@127.0.0.1:4000/a"), (interned{1, false}));

  // Neither the last-string cache nor the static one hands out an undone id.
  out.begin_frame();
  ASSERT_EQ(put(interned_kind::type, other), (interned{2, true}));
  ASSERT_EQ(put(interned_kind::type, other, true), (interned{2, false}));
  out.undo_frame();
  EXPECT_EQ(put(interned_kind::type, other), (interned{2, true})) << "the last-string cache forgot it";
  out.undo_frame();
  EXPECT_EQ(put(interned_kind::type, other, true), (interned{2, true})) << "the static cache forgot it";
}

TEST(codec, a_receiver_resolves_definitions_and_uses_and_refuses_the_rest) {
  inbound_interns in;
  std::string why;
  std::string_view s = "akt://beta@127.0.0.1:4000/calc";
  ASSERT_TRUE(in.resolve(interned_kind::receiver, s, 1, why)) << why;
  s = {};
  ASSERT_TRUE(in.resolve(interned_kind::receiver, s, 1, why)) << why;
  EXPECT_EQ(s, "akt://beta@127.0.0.1:4000/calc");
  s = "akt://beta@127.0.0.1:4000/calc";
  EXPECT_TRUE(in.resolve(interned_kind::receiver, s, 1, why)) << "the same definition again is harmless";
  s = "plain";
  EXPECT_TRUE(in.resolve(interned_kind::receiver, s, 0, why));
  EXPECT_EQ(s, "plain") << "without an id, the string as sent";

  s = {};
  EXPECT_FALSE(in.resolve(interned_kind::type, s, 1, why));
  EXPECT_NE(why.find("type id 1 is used before it was defined"), std::string::npos) << why;
  s = "demo.Add";
  EXPECT_FALSE(in.resolve(interned_kind::type, s, 2, why));
  EXPECT_NE(why.find("out of order"), std::string::npos) << why;
  s = "akt://beta@127.0.0.1:4000/other";
  EXPECT_FALSE(in.resolve(interned_kind::receiver, s, 1, why));
  EXPECT_NE(why.find("defined again as another string"), std::string::npos) << why;
  s = {};
  EXPECT_FALSE(in.resolve(interned_kind::sender, s, max_interned_ids + 1, why));
  EXPECT_NE(why.find("over the bound"), std::string::npos) << why;
  const std::string long_one(max_interned_bytes + 1, 'x');
  s = long_one;
  EXPECT_FALSE(in.resolve(interned_kind::sender, s, 1, why));
  EXPECT_NE(why.find("at most"), std::string::npos) << why;
}

TEST(codec, hello_round_trips) {
  std::string out;
  const std::string nonce(32, 'n');
  append_hello_frame(out, hello_view{.protocol_version = protocol_version,
                                     .system = "alpha",
                                     .address = "127.0.0.1:4001",
                                     .nonce = nonce,
                                     .secret = true});
  akt::wire::Frame f;
  ASSERT_TRUE(f.ParseFromString(body_of(out)));
  EXPECT_EQ(f.hello().protocol_version(), protocol_version);
  EXPECT_EQ(f.hello().system(), "alpha");
  EXPECT_EQ(f.hello().nonce(), nonce);
  EXPECT_TRUE(f.hello().secret());
  frame_view v;
  std::size_t used = 0;
  ASSERT_EQ(decode_frame(out, 1 << 20, v, used), decode_status::frame);
  EXPECT_EQ(used, out.size());
  EXPECT_EQ(v.hello.address, "127.0.0.1:4001");
  EXPECT_EQ(v.hello.nonce, nonce);
  EXPECT_TRUE(v.hello.secret);
}

TEST(codec, proof_and_credit_round_trip) {
  std::string out;
  append_proof_frame(out, std::string(32, 'm'));
  akt::wire::Frame f;
  ASSERT_TRUE(f.ParseFromString(body_of(out)));
  EXPECT_EQ(f.proof().mac(), std::string(32, 'm'));
  frame_view v;
  std::size_t used = 0;
  ASSERT_EQ(decode_frame(out, 1 << 20, v, used), decode_status::frame);
  ASSERT_EQ(v.kind, frame_kind::proof);
  EXPECT_EQ(v.proof, std::string(32, 'm'));

  out.clear();
  append_credit_frame(out, "akt://beta@127.0.0.1:4000/calc", 65536);
  ASSERT_TRUE(f.ParseFromString(body_of(out)));
  EXPECT_EQ(f.credit().receiver(), "akt://beta@127.0.0.1:4000/calc");
  EXPECT_EQ(f.credit().bytes(), 65536u);
  ASSERT_EQ(decode_frame(out, 1 << 20, v, used), decode_status::frame);
  ASSERT_EQ(v.kind, frame_kind::credit);
  EXPECT_EQ(v.credit.receiver, "akt://beta@127.0.0.1:4000/calc");
  EXPECT_EQ(v.credit.bytes, 65536u);
}

TEST(codec, partial_oversized_and_malformed_frames_are_told_apart) {
  std::string out;
  append_heartbeat_frame(out, 42);
  frame_view v;
  std::size_t used = 0;
  EXPECT_EQ(decode_frame(std::string_view(out).substr(0, 3), 1 << 20, v, used), decode_status::need_more);
  EXPECT_EQ(decode_frame(std::string_view(out).substr(0, out.size() - 1), 1 << 20, v, used),
            decode_status::need_more);
  EXPECT_EQ(decode_frame(out, 1, v, used), decode_status::too_large);
  const std::string junk("\x00\x00\x00\x03\xff\xff\xff", 7);
  EXPECT_EQ(decode_frame(junk, 1 << 20, v, used), decode_status::malformed);
  const std::string empty_frame("\x00\x00\x00\x00", 4);
  EXPECT_EQ(decode_frame(empty_frame, 1 << 20, v, used), decode_status::malformed) << "a frame with no body";
  const std::string lying_length("\x00\x00\x00\x03\x12\x7f\x08", 7);  // envelope claims 127 bytes, has 1
  EXPECT_EQ(decode_frame(lying_length, 1 << 20, v, used), decode_status::malformed);
}

TEST(codec, random_bytes_never_crash_the_decoder) {
  std::mt19937 rng(7);
  std::string buf;
  frame_view v;
  for (int i = 0; i < 200'000; ++i) {
    buf.resize(rng() % 64);
    for (auto& c : buf) c = static_cast<char>(rng());
    std::size_t used = 0;
    const auto s = decode_frame(buf, 1 << 16, v, used);
    if (s == decode_status::frame) EXPECT_LE(used, buf.size());
  }
}

}  // namespace
