// W3C trace context: parsing and printing `traceparent` (akt/trace.hpp).
#include <akt/trace.hpp>

#include <algorithm>

namespace akt {

namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is invalid in traceparent
}

template <std::size_t N>
bool parse_hex(std::string_view text, std::array<std::uint8_t, N>& out) noexcept {
  if (text.size() != 2 * N) return false;
  for (std::size_t i = 0; i < N; ++i) {
    const int hi = hex_value(text[2 * i]);
    const int lo = hex_value(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

template <std::size_t N>
bool all_zero(const std::array<std::uint8_t, N>& a) noexcept {
  return std::all_of(a.begin(), a.end(), [](std::uint8_t b) { return b == 0; });
}

void append_hex(std::string& out, const std::uint8_t* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[p[i] >> 4];
    out += digits[p[i] & 15];
  }
}

}  // namespace

result<detail::ref_ptr<const trace_context>> trace_context::parse(std::string_view traceparent,
                                                                  std::string_view tracestate) {
  auto bad = [&](std::string_view why) {
    return error(errc::invalid_argument, "traceparent '" + std::string(traceparent.substr(0, 64)) + "': " +
                                             std::string(why) + " (expected 00-<32 hex>-<16 hex>-<2 hex>)");
  };
  // Version 00 is exactly 55 characters; a later version may append fields
  // after a '-', which are ignored (W3C: parse what this version knows).
  std::array<std::uint8_t, 1> version{};
  if (traceparent.size() < 55 || !parse_hex(traceparent.substr(0, 2), version) || version[0] == 0xff) {
    return bad(traceparent.size() < 55 ? "too short" : "bad version");
  }
  if (traceparent.size() > 55 && (version[0] == 0 || traceparent[55] != '-')) return bad("wrong length");
  if (traceparent[2] != '-' || traceparent[35] != '-' || traceparent[52] != '-') return bad("misplaced '-'");
  trace_id t{};
  span_id s{};
  std::array<std::uint8_t, 1> flags{};
  if (!parse_hex(traceparent.substr(3, 32), t) || all_zero(t)) return bad("bad trace id");
  if (!parse_hex(traceparent.substr(36, 16), s) || all_zero(s)) return bad("bad parent id");
  if (!parse_hex(traceparent.substr(53, 2), flags)) return bad("bad flags");
  if (tracestate.size() > 512) {
    return error(errc::invalid_argument,
                 "tracestate of " + std::to_string(tracestate.size()) + " bytes (at most 512)");
  }
  return make(t, s, flags[0], std::string(tracestate));
}

detail::ref_ptr<const trace_context> trace_context::make(const trace_id& trace, const span_id& span,
                                                         std::uint8_t flags, std::string tracestate,
                                                         std::uint32_t hops) {
  return detail::ref_ptr<const trace_context>::adopt(
      new trace_context(trace, span, flags, std::move(tracestate), hops));
}

std::string trace_context::traceparent() const {
  std::string out = "00-";
  out.reserve(55);
  append_hex(out, trace_.data(), trace_.size());
  out += '-';
  append_hex(out, span_.data(), span_.size());
  out += '-';
  append_hex(out, &flags_, 1);
  return out;
}

}  // namespace akt
