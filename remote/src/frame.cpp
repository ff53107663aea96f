#include "frame.hpp"

namespace akt::remote::detail {

void append_frame(const wire::Frame& frame, std::string& out) {
  const std::size_t size = frame.ByteSizeLong();
  const std::size_t at = out.size();
  out.resize(at + 4);
  out[at] = static_cast<char>((size >> 24) & 0xff);
  out[at + 1] = static_cast<char>((size >> 16) & 0xff);
  out[at + 2] = static_cast<char>((size >> 8) & 0xff);
  out[at + 3] = static_cast<char>(size & 0xff);
  frame.AppendToString(&out);
}

decode_status decode_frame(std::string_view in, std::size_t max_frame_bytes, wire::Frame& out,
                           std::size_t& consumed) {
  if (in.size() < 4) return decode_status::need_more;
  const auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])); };
  const std::uint32_t size = (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
  if (size > max_frame_bytes) return decode_status::too_large;
  if (in.size() < 4 + static_cast<std::size_t>(size)) return decode_status::need_more;
  if (!out.ParseFromArray(in.data() + 4, static_cast<int>(size))) return decode_status::malformed;
  if (out.body_case() == wire::Frame::BODY_NOT_SET) return decode_status::malformed;
  consumed = 4 + static_cast<std::size_t>(size);
  return decode_status::frame;
}

}  // namespace akt::remote::detail
