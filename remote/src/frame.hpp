// Framing: a 4-byte big-endian length, then one serialized wire Frame.
// The decoder is a pure function over bytes (fuzzed in tests/fuzz).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "akt_wire.pb.h"

namespace akt::remote::detail {

constexpr std::uint32_t protocol_version = 1;

// Appends the frame, length prefix included, to `out`.
void append_frame(const wire::Frame& frame, std::string& out);

enum class decode_status { frame, need_more, too_large, malformed };

// Takes one frame from the front of `in`: on `frame`, `consumed` bytes were
// used and `out` holds it; `need_more` if `in` holds only part of one;
// `too_large` / `malformed` mean the connection must close.
decode_status decode_frame(std::string_view in, std::size_t max_frame_bytes, wire::Frame& out,
                           std::size_t& consumed);

}  // namespace akt::remote::detail
