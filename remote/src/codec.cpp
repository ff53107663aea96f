#include "codec.hpp"

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

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

constexpr std::uint32_t tag(std::uint32_t field, std::uint32_t wire_type) { return (field << 3) | wire_type; }

std::size_t bytes_field_size(std::uint32_t field, std::string_view s) {
  return s.empty() ? 0 : varint_size(tag(field, 2)) + varint_size(s.size()) + s.size();
}
std::size_t varint_field_size(std::uint32_t field, std::uint64_t v) {
  return v == 0 ? 0 : varint_size(tag(field, 0)) + varint_size(v);
}
void put_bytes_field(std::string& out, std::uint32_t field, std::string_view s) {
  if (s.empty()) return;  // proto3: defaults are not written
  put_varint(out, tag(field, 2));
  put_varint(out, s.size());
  out.append(s);
}
void put_varint_field(std::string& out, std::uint32_t field, std::uint64_t v) {
  if (v == 0) return;
  put_varint(out, tag(field, 0));
  put_varint(out, v);
}

void put_length_prefix(std::string& out, std::size_t at, std::size_t size) {
  out[at] = static_cast<char>((size >> 24) & 0xff);
  out[at + 1] = static_cast<char>((size >> 16) & 0xff);
  out[at + 2] = static_cast<char>((size >> 8) & 0xff);
  out[at + 3] = static_cast<char>(size & 0xff);
}

// Writes Frame{field = message of `size` bytes produced by `body`}.
template <class Body>
void append_frame(std::string& out, std::uint32_t field, std::size_t size, Body&& body) {
  const std::size_t frame_size = varint_size(tag(field, 2)) + varint_size(size) + size;
  const std::size_t at = out.size();
  out.resize(at + 4);
  put_length_prefix(out, at, frame_size);
  out.reserve(out.size() + frame_size);
  put_varint(out, tag(field, 2));
  put_varint(out, size);
  body();
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
      case 0: return varint(v);
      case 1:
        if (end - p < 8) return false;
        p += 8;
        return true;
      case 2: return bytes(s);
      case 5:
        if (end - p < 4) return false;
        p += 4;
        return true;
      default: return false;  // groups and invalid types
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

bool parse_envelope(std::string_view bytes, envelope_view& e) {
  reader r = make_reader(bytes);
  std::uint32_t field, wt;
  bool ok;
  while (r.next(field, wt, ok)) {
    std::uint64_t v = 0;
    bool good;
    switch (field) {
      case 1: good = wt == 0 && r.varint(v); e.kind = static_cast<envelope_kind>(v); good = good && v <= 5; break;
      case 2: good = wt == 2 && r.bytes(e.receiver); break;
      case 3: good = wt == 2 && r.bytes(e.sender); break;
      case 4: good = wt == 2 && r.bytes(e.type); break;
      case 5: good = wt == 2 && r.bytes(e.payload); break;
      case 6: good = wt == 0 && r.varint(e.correlation_id); break;
      case 7: good = wt == 0 && r.varint(e.timeout_us); break;
      case 8: good = wt == 0 && r.varint(v) && v <= 0xffffffffu; e.error_code = static_cast<std::uint32_t>(v); break;
      case 9: good = wt == 2 && r.bytes(e.error_message); break;
      case 10: good = wt == 2 && r.bytes(e.traceparent); break;
      default: good = r.skip(wt); break;  // a field from a newer peer
    }
    if (!good) return false;
  }
  return ok;
}

bool parse_hello(std::string_view bytes, hello_view& h) {
  reader r = make_reader(bytes);
  std::uint32_t field, wt;
  bool ok;
  while (r.next(field, wt, ok)) {
    std::uint64_t v = 0;
    bool good;
    switch (field) {
      case 1: good = wt == 0 && r.varint(v) && v <= 0xffffffffu; h.protocol_version = static_cast<std::uint32_t>(v); break;
      case 2: good = wt == 2 && r.bytes(h.system); break;
      case 3: good = wt == 2 && r.bytes(h.address); break;
      default: good = r.skip(wt); break;
    }
    if (!good) return false;
  }
  return ok;
}

}  // namespace

void append_envelope_frame(std::string& out, const envelope_view& e) {
  const std::size_t size =
      varint_field_size(1, static_cast<std::uint64_t>(e.kind)) + bytes_field_size(2, e.receiver) +
      bytes_field_size(3, e.sender) + bytes_field_size(4, e.type) + bytes_field_size(5, e.payload) +
      varint_field_size(6, e.correlation_id) + varint_field_size(7, e.timeout_us) + varint_field_size(8, e.error_code) +
      bytes_field_size(9, e.error_message) + bytes_field_size(10, e.traceparent);
  append_frame(out, 2, size, [&] {
    put_varint_field(out, 1, static_cast<std::uint64_t>(e.kind));
    put_bytes_field(out, 2, e.receiver);
    put_bytes_field(out, 3, e.sender);
    put_bytes_field(out, 4, e.type);
    put_bytes_field(out, 5, e.payload);
    put_varint_field(out, 6, e.correlation_id);
    put_varint_field(out, 7, e.timeout_us);
    put_varint_field(out, 8, e.error_code);
    put_bytes_field(out, 9, e.error_message);
    put_bytes_field(out, 10, e.traceparent);
  });
}

void append_hello_frame(std::string& out, std::string_view system, std::string_view address) {
  const std::size_t size = varint_field_size(1, protocol_version) + bytes_field_size(2, system) + bytes_field_size(3, address);
  append_frame(out, 1, size, [&] {
    put_varint_field(out, 1, protocol_version);
    put_bytes_field(out, 2, system);
    put_bytes_field(out, 3, address);
  });
}

void append_heartbeat_frame(std::string& out, std::uint64_t sent_at_us) {
  append_frame(out, 3, varint_field_size(1, sent_at_us), [&] { put_varint_field(out, 1, sent_at_us); });
}

bool parse_frame(std::string_view body, frame_view& out) {
  reader r = make_reader(body);
  std::uint32_t field, wt;
  bool ok;
  bool seen = false;
  while (r.next(field, wt, ok)) {
    std::string_view inner;
    if (field >= 1 && field <= 3) {
      if (wt != 2 || !r.bytes(inner)) return false;
      seen = true;
      if (field == 1) {
        out.kind = frame_kind::hello;
        out.hello = hello_view{};
        if (!parse_hello(inner, out.hello)) return false;
      } else if (field == 2) {
        out.kind = frame_kind::envelope;
        out.envelope = envelope_view{};
        if (!parse_envelope(inner, out.envelope)) return false;
      } else {
        out.kind = frame_kind::heartbeat;
      }
    } else if (!r.skip(wt)) {
      return false;
    }
  }
  return ok && seen;
}

decode_status decode_frame(std::string_view in, std::size_t max_frame_bytes, frame_view& out, std::size_t& consumed) {
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
