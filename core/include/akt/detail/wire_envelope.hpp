// akt/detail/wire_envelope.hpp — a message that arrived from another node,
// still in wire form.
//
// A transport's I/O thread only frames an incoming message and copies its
// bytes into one of these; the receiving actor's worker decodes it at the
// start of the turn that handles it (actor_cell::handle). Protobuf parsing
// then runs on the workers, in parallel with the I/O thread reading the next
// messages, and the decoded envelopes come from and go back to the
// envelope pool on the same thread. The actor sees only the decoded message.
//
// One allocation: the header, then the type name and the payload inline.
//
// Flow control: a transport may attach a consumption_hook, told once when
// the actor takes the message (decode) or when it is dropped (dispose
// without decode), so the sender gets its credit back either way.
//
// Thread safety: as any envelope (one owner at a time).
#pragma once

#include <akt/detail/envelope.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace akt::detail {

class consumption_hook : public ref_counted {
 public:
  // `cost` is what the transport attached to the message (its frame's size).
  virtual void consumed(std::uint32_t cost) noexcept = 0;
};

class wire_envelope final : public envelope {
 public:
  // Makes a message from `bytes`, or null when they are not a valid one.
  using decoder = envelope_ptr (*)(std::string_view bytes);

  static envelope_ptr make(decoder decode, std::string_view type, std::string_view bytes,
                           ref_ptr<consumption_hook> hook = {}, std::uint32_t cost = 0);

  // The decoded message, carrying this envelope's sender and reply sink;
  // null when the bytes are not a valid message of the type (this envelope
  // then keeps its sender and reply sink).
  envelope_ptr decode();

  std::string type_name() const override { return std::string(wire_type()); }
  std::string_view wire_type() const noexcept override { return {data(), type_size_}; }
  // Forwarding to another node needs no decoding.
  bool serialize(std::string& out) const override {
    out.append(bytes());
    return true;
  }
  void dispose() noexcept override;

 private:
  wire_envelope(decoder decode, std::uint32_t type_size, std::uint32_t bytes_size,
                std::size_t allocated) noexcept;
  ~wire_envelope() override = default;
  void report_consumed() noexcept;

  const char* data() const noexcept { return reinterpret_cast<const char*>(this + 1); }
  char* data() noexcept { return reinterpret_cast<char*>(this + 1); }
  std::string_view bytes() const noexcept { return {data() + type_size_, bytes_size_}; }

  decoder decode_;
  std::uint32_t type_size_;
  std::uint32_t bytes_size_;
  std::size_t allocated_;
  ref_ptr<consumption_hook> hook_;
  std::uint32_t cost_ = 0;
};

}  // namespace akt::detail
