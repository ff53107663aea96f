#include "codec.hpp"

#include <cstring>

namespace akt::remote::detail {

namespace {

// ---- encoding

constexpr std::size_t varint_size(std::uint64_t v) {
  std::size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Writers over a buffer already sized for what they write (one resize per
// frame, no per-byte capacity checks).
char* put_varint(char* p, std::uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

constexpr std::uint32_t tag(std::uint32_t field, std::uint32_t wire_type) {
  return (field << 3) | wire_type;
}

std::size_t bytes_field_size(std::uint32_t field, std::string_view s) {
  return s.empty() ? 0 : varint_size(tag(field, 2)) + varint_size(s.size()) + s.size();
}
std::size_t varint_field_size(std::uint32_t field, std::uint64_t v) {
  return v == 0 ? 0 : varint_size(tag(field, 0)) + varint_size(v);
}
char* put_bytes_field(char* p, std::uint32_t field, std::string_view s) {
  if (s.empty()) return p;  // proto3: defaults are not written
  p = put_varint(p, tag(field, 2));
  p = put_varint(p, s.size());
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}
char* put_varint_field(char* p, std::uint32_t field, std::uint64_t v) {
  if (v == 0) return p;
  p = put_varint(p, tag(field, 0));
  return put_varint(p, v);
}

// `n` more bytes at the end of `out`, for the caller to write (a string
// zero-fills them first; a byte_queue does not).
char* extend_by(std::string& out, std::size_t n) {
  const std::size_t at = out.size();
  out.resize(at + n);
  return out.data() + at;
}
char* extend_by(byte_queue& out, std::size_t n) {
  return out.extend(n);
}

// Writes Frame{field = message of `size` bytes produced by `body(p) -> end`}.
template <class Out, class Body>
void append_frame(Out& out, std::uint32_t field, std::size_t size, Body&& body) {
  const std::size_t frame_size = varint_size(tag(field, 2)) + varint_size(size) + size;
  char* p = extend_by(out, 4 + frame_size);
  p[0] = static_cast<char>((frame_size >> 24) & 0xff);
  p[1] = static_cast<char>((frame_size >> 16) & 0xff);
  p[2] = static_cast<char>((frame_size >> 8) & 0xff);
  p[3] = static_cast<char>(frame_size & 0xff);
  p = put_varint(p + 4, tag(field, 2));
  p = put_varint(p, size);
  char* end = body(p);
  (void)end;  // the end of `out`, by construction of `size`
}

// ---- decoding

struct reader {
  const unsigned char* p;
  const unsigned char* end;

  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p == end) return false;
      const unsigned char b = *p++;
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;  // over 10 bytes
  }
  bool uint32(std::uint32_t& v) {
    std::uint64_t w;
    if (!varint(w) || w > 0xffffffffu) return false;
    v = static_cast<std::uint32_t>(w);
    return true;
  }
  bool bytes(std::string_view& s) {
    std::uint64_t n;
    if (!varint(n) || n > static_cast<std::uint64_t>(end - p)) return false;
    s = std::string_view(reinterpret_cast<const char*>(p), static_cast<std::size_t>(n));
    p += n;
    return true;
  }
  bool skip(std::uint32_t wire_type) {
    std::uint64_t v;
    std::string_view s;
    switch (wire_type) {
      case 0:
        return varint(v);
      case 1:
        if (end - p < 8) return false;
        p += 8;
        return true;
      case 2:
        return bytes(s);
      case 5:
        if (end - p < 4) return false;
        p += 4;
        return true;
      default:
        return false;  // groups and invalid types
    }
  }
  // Reads the next (field, wire type); false at the end or on a bad tag.
  bool next(std::uint32_t& field, std::uint32_t& wire_type, bool& ok) {
    ok = true;
    if (p == end) return false;
    std::uint64_t t;
    if (!varint(t) || (t >> 3) == 0 || (t >> 3) > 0x1fffffff) {
      ok = false;
      return false;
    }
    field = static_cast<std::uint32_t>(t >> 3);
    wire_type = static_cast<std::uint32_t>(t & 7);
    return true;
  }
};

reader make_reader(std::string_view s) {
  auto* b = reinterpret_cast<const unsigned char*>(s.data());
  return reader{b, b + s.size()};
}

// Calls on_field(field, wire_type, reader) for each field of one message;
// false as soon as a field or a tag is bad.
template <class OnField>
bool for_each_field(std::string_view bytes, OnField&& on_field) {
  reader r = make_reader(bytes);
  std::uint32_t field, wt;
  bool ok;
  while (r.next(field, wt, ok)) {
    if (!on_field(field, wt, r)) return false;
  }
  return ok;
}

bool parse_envelope(std::string_view bytes, envelope_view& e) {
  return for_each_field(bytes, [&](std::uint32_t field, std::uint32_t wt, reader& r) {
    std::uint64_t v = 0;
    switch (field) {
      case 1:
        if (wt != 0 || !r.varint(v) || v > 9) return false;
        e.kind = static_cast<envelope_kind>(v);
        return true;
      case 2:
        return wt == 2 && r.bytes(e.receiver);
      case 3:
        return wt == 2 && r.bytes(e.sender);
      case 4:
        return wt == 2 && r.bytes(e.type);
      case 5:
        return wt == 2 && r.bytes(e.payload);
      case 6:
        return wt == 0 && r.varint(e.correlation_id);
      case 7:
        return wt == 0 && r.varint(e.timeout_us);
      case 8:
        if (wt != 0 || !r.varint(v) || v > 0xffffffffu) return false;
        e.error_code = static_cast<std::uint32_t>(v);
        return true;
      case 9:
        return wt == 2 && r.bytes(e.error_message);
      case 10:
        return wt == 2 && r.bytes(e.traceparent);
      case 11:
        return wt == 2 && r.bytes(e.tracestate);
      case 12:
        return wt == 0 && r.uint32(e.receiver_id);
      case 13:
        return wt == 0 && r.uint32(e.sender_id);
      case 14:
        return wt == 0 && r.uint32(e.type_id);
      default:
        return r.skip(wt);  // a field from a newer peer
    }
  });
}

bool parse_hello(std::string_view bytes, hello_view& h) {
  return for_each_field(bytes, [&](std::uint32_t field, std::uint32_t wt, reader& r) {
    std::uint64_t v = 0;
    switch (field) {
      case 1:
        if (wt != 0 || !r.varint(v) || v > 0xffffffffu) return false;
        h.protocol_version = static_cast<std::uint32_t>(v);
        return true;
      case 2:
        return wt == 2 && r.bytes(h.system);
      case 3:
        return wt == 2 && r.bytes(h.address);
      case 4:
        return wt == 2 && r.bytes(h.nonce);
      case 5:
        if (wt != 0 || !r.varint(v) || v > 1) return false;
        h.secret = v == 1;
        return true;
      default:
        return r.skip(wt);
    }
  });
}

bool parse_proof(std::string_view bytes, std::string_view& mac) {
  return for_each_field(bytes, [&](std::uint32_t field, std::uint32_t wt, reader& r) {
    if (field == 1) return wt == 2 && r.bytes(mac);
    return r.skip(wt);
  });
}

bool parse_credit(std::string_view bytes, credit_view& c) {
  return for_each_field(bytes, [&](std::uint32_t field, std::uint32_t wt, reader& r) {
    switch (field) {
      case 1:
        return wt == 2 && r.bytes(c.receiver);
      case 2:
        return wt == 0 && r.varint(c.bytes);
      default:
        return r.skip(wt);
    }
  });
}

}  // namespace

template <class Out>
void append_envelope_frame(Out& out, const envelope_view& e) {
  const payload_writer copy{e.payload.size(),
                            [](const void* view, std::uint8_t* to) {
                              const auto* v = static_cast<const std::string_view*>(view);
                              std::memcpy(to, v->data(), v->size());
                            },
                            &e.payload};
  append_envelope_frame(out, e, copy);
}

namespace {

// The frame of a tell in a stream: every string interned (ids alone), no
// correlation, trace or error. Each field's tag is one byte: 5 (payload)
// 0x2a, 12/13/14 (ids) 0x60/0x68/0x70, Frame.envelope 0x12. The same bytes
// as the general encoder below, for a third of its instructions.
bool is_plain_interned_tell(const envelope_view& e) noexcept {
  return e.kind == envelope_kind::tell && e.receiver.empty() && e.sender.empty() && e.type.empty() &&
         (e.correlation_id | e.timeout_us | e.error_code) == 0 && e.error_message.empty() &&
         e.traceparent.empty() && e.tracestate.empty();
}

template <class Out>
void append_plain_interned_tell(Out& out, const envelope_view& e, const payload_writer& payload) {
  const std::size_t size = (payload.size == 0 ? 0 : 1 + varint_size(payload.size) + payload.size) +
                           (e.receiver_id == 0 ? 0 : 1 + varint_size(e.receiver_id)) +
                           (e.sender_id == 0 ? 0 : 1 + varint_size(e.sender_id)) +
                           (e.type_id == 0 ? 0 : 1 + varint_size(e.type_id));
  append_frame(out, 2, size, [&](char* p) {
    if (payload.size != 0) {
      *p++ = static_cast<char>(tag(5, 2));
      p = put_varint(p, payload.size);
      payload.write(payload.ctx, reinterpret_cast<std::uint8_t*>(p));
      p += payload.size;
    }
    const auto id = [&p](std::uint32_t field, std::uint32_t v) {
      if (v == 0) return;
      *p++ = static_cast<char>(tag(field, 0));
      p = put_varint(p, v);
    };
    id(12, e.receiver_id);
    id(13, e.sender_id);
    id(14, e.type_id);
    return p;
  });
}

}  // namespace

template <class Out>
void append_envelope_frame(Out& out, const envelope_view& e, const payload_writer& payload) {
  if (is_plain_interned_tell(e)) {
    append_plain_interned_tell(out, e, payload);
    return;
  }
  const std::size_t payload_field =
      payload.size == 0 ? 0 : varint_size(tag(5, 2)) + varint_size(payload.size) + payload.size;
  // Fields 6-11 are absent from a plain tell: one test skips them all.
  const bool rare = (e.correlation_id | e.timeout_us | e.error_code) != 0 || !e.error_message.empty() ||
                    !e.traceparent.empty() || !e.tracestate.empty();
  std::size_t size = varint_field_size(1, static_cast<std::uint64_t>(e.kind)) +
                     bytes_field_size(2, e.receiver) + bytes_field_size(3, e.sender) +
                     bytes_field_size(4, e.type) + payload_field + varint_field_size(12, e.receiver_id) +
                     varint_field_size(13, e.sender_id) + varint_field_size(14, e.type_id);
  if (rare) {
    size += varint_field_size(6, e.correlation_id) + varint_field_size(7, e.timeout_us) +
            varint_field_size(8, e.error_code) + bytes_field_size(9, e.error_message) +
            bytes_field_size(10, e.traceparent) + bytes_field_size(11, e.tracestate);
  }
  append_frame(out, 2, size, [&](char* p) {
    p = put_varint_field(p, 1, static_cast<std::uint64_t>(e.kind));
    p = put_bytes_field(p, 2, e.receiver);
    p = put_bytes_field(p, 3, e.sender);
    p = put_bytes_field(p, 4, e.type);
    if (payload.size != 0) {
      p = put_varint(p, tag(5, 2));
      p = put_varint(p, payload.size);
      payload.write(payload.ctx, reinterpret_cast<std::uint8_t*>(p));
      p += payload.size;
    }
    if (rare) {
      p = put_varint_field(p, 6, e.correlation_id);
      p = put_varint_field(p, 7, e.timeout_us);
      p = put_varint_field(p, 8, e.error_code);
      p = put_bytes_field(p, 9, e.error_message);
      p = put_bytes_field(p, 10, e.traceparent);
      p = put_bytes_field(p, 11, e.tracestate);
    }
    p = put_varint_field(p, 12, e.receiver_id);
    p = put_varint_field(p, 13, e.sender_id);
    return put_varint_field(p, 14, e.type_id);
  });
}

template <class Out>
void append_hello_frame(Out& out, const hello_view& h) {
  const std::size_t size = varint_field_size(1, h.protocol_version) + bytes_field_size(2, h.system) +
                           bytes_field_size(3, h.address) + bytes_field_size(4, h.nonce) +
                           varint_field_size(5, h.secret ? 1 : 0);
  append_frame(out, 1, size, [&](char* p) {
    p = put_varint_field(p, 1, h.protocol_version);
    p = put_bytes_field(p, 2, h.system);
    p = put_bytes_field(p, 3, h.address);
    p = put_bytes_field(p, 4, h.nonce);
    return put_varint_field(p, 5, h.secret ? 1 : 0);
  });
}

template <class Out>
void append_proof_frame(Out& out, std::string_view mac) {
  append_frame(out, 4, bytes_field_size(1, mac), [&](char* p) { return put_bytes_field(p, 1, mac); });
}

template <class Out>
void append_credit_frame(Out& out, std::string_view receiver, std::uint64_t bytes) {
  append_frame(out, 5, bytes_field_size(1, receiver) + varint_field_size(2, bytes), [&](char* p) {
    p = put_bytes_field(p, 1, receiver);
    return put_varint_field(p, 2, bytes);
  });
}

template <class Out>
void append_heartbeat_frame(Out& out, std::uint64_t sent_at_us) {
  append_frame(out, 3, varint_field_size(1, sent_at_us),
               [&](char* p) { return put_varint_field(p, 1, sent_at_us); });
}

// The encoders' instances: a plain string (tests, one-off frames) and a
// connection's queue (no zero-fill).
template void append_envelope_frame(std::string&, const envelope_view&);
template void append_envelope_frame(std::string&, const envelope_view&, const payload_writer&);
template void append_hello_frame(std::string&, const hello_view&);
template void append_proof_frame(std::string&, std::string_view);
template void append_credit_frame(std::string&, std::string_view, std::uint64_t);
template void append_heartbeat_frame(std::string&, std::uint64_t);
template void append_envelope_frame(byte_queue&, const envelope_view&);
template void append_envelope_frame(byte_queue&, const envelope_view&, const payload_writer&);
template void append_hello_frame(byte_queue&, const hello_view&);
template void append_proof_frame(byte_queue&, std::string_view);
template void append_credit_frame(byte_queue&, std::string_view, std::uint64_t);
template void append_heartbeat_frame(byte_queue&, std::uint64_t);

namespace {

// The frame of a stream's tell, as append_plain_interned_tell writes it:
// Frame{envelope{payload?, receiver_id?, sender_id?, type_id?}}, each field
// at most once, in that order. Parsed here with no field loop; anything
// else (other fields, another order, a bad varint) returns false and goes
// to the general parser, which alone decides what is malformed.
// The same envelope_view results either way (a test checks both on the
// same bytes).
bool match_interned_tell(const unsigned char* p, const unsigned char* end, interned_tell& t) noexcept {
  // Frame tag and the envelope's length: one byte each for any frame under
  // 128 bytes, the common case; longer ones take the general parser.
  if (end - p < 2 || p[0] != tag(2, 2) || p[1] >= 0x80 || p[1] != end - p - 2) return false;
  p += 2;
  t = interned_tell{};
  if (p != end && *p == tag(5, 2)) {
    if (end - p < 2 || p[1] >= 0x80 || p[1] > end - p - 2) return false;
    t.payload = std::string_view(reinterpret_cast<const char*>(p + 2), p[1]);
    p += 2 + p[1];
  }
  // The ids: varints of up to five bytes that fit 32 bits; one or two in
  // practice (ids are bounded by max_interned_ids), read here directly.
  const auto id = [&](std::uint32_t field, std::uint32_t& v) {
    if (p == end || *p != tag(field, 0)) return true;  // absent
    if (end - p >= 2 && p[1] < 0x80) {
      v = p[1];
      p += 2;
      return true;
    }
    if (end - p >= 3 && p[2] < 0x80) {
      v = (p[1] & 0x7fu) | (static_cast<std::uint32_t>(p[2]) << 7);
      p += 3;
      return true;
    }
    reader r{p + 1, end};
    if (!r.uint32(v)) return false;
    p = r.p;
    return true;
  };
  return id(12, t.receiver_id) && id(13, t.sender_id) && id(14, t.type_id) && p == end;
}

bool parse_plain_interned_tell(std::string_view body, frame_view& out) {
  const auto* p = reinterpret_cast<const unsigned char*>(body.data());
  interned_tell t;
  if (!match_interned_tell(p, p + body.size(), t)) return false;
  envelope_view& e = out.envelope;
  e = envelope_view{};
  e.payload = t.payload;
  e.receiver_id = t.receiver_id;
  e.sender_id = t.sender_id;
  e.type_id = t.type_id;
  out.kind = frame_kind::envelope;
  return true;
}

}  // namespace

bool parse_frame(std::string_view body, frame_view& out) {
  return parse_plain_interned_tell(body, out) || parse_frame_general(body, out);
}

bool parse_frame_general(std::string_view body, frame_view& out) {
  bool seen = false;
  const bool ok = for_each_field(body, [&](std::uint32_t field, std::uint32_t wt, reader& r) {
    if (field < 1 || field > 5) return r.skip(wt);
    std::string_view inner;
    if (wt != 2 || !r.bytes(inner)) return false;
    seen = true;
    switch (field) {
      case 1:
        out.kind = frame_kind::hello;
        out.hello = hello_view{};
        return parse_hello(inner, out.hello);
      case 2:
        out.kind = frame_kind::envelope;
        out.envelope = envelope_view{};
        return parse_envelope(inner, out.envelope);
      case 3:
        out.kind = frame_kind::heartbeat;
        return true;
      case 4:
        out.kind = frame_kind::proof;
        out.proof = {};
        return parse_proof(inner, out.proof);
      default:
        out.kind = frame_kind::credit;
        out.credit = credit_view{};
        return parse_credit(inner, out.credit);
    }
  });
  return ok && seen;
}

std::size_t take_interned_tell(std::string_view in, interned_tell& out) noexcept {
  // A frame under 128 bytes has a header of three zero bytes and its size.
  if (in.size() < 6 || in[0] != 0 || in[1] != 0 || in[2] != 0) return 0;
  const auto size = static_cast<std::size_t>(static_cast<unsigned char>(in[3]));
  if (in.size() < 4 + size) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data()) + 4;
  return match_interned_tell(p, p + size, out) ? 4 + size : 0;
}

decode_status decode_frame(std::string_view in, std::size_t max_frame_bytes, frame_view& out,
                           std::size_t& consumed) {
  if (in.size() < 4) return decode_status::need_more;
  const auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])); };
  const std::uint32_t size = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
  if (size > max_frame_bytes) return decode_status::too_large;
  if (in.size() < 4 + static_cast<std::size_t>(size)) return decode_status::need_more;
  if (!parse_frame(in.substr(4, size), out)) return decode_status::malformed;
  consumed = 4 + static_cast<std::size_t>(size);
  return decode_status::frame;
}

}  // namespace akt::remote::detail
