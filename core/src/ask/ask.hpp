// Asks: the blocking form (a caller waits on an ask_promise) and the
// non-blocking form (a pending_request whose outcome comes back to the
// asking actor as a continuation message). Each ask has its own sink, so a
// late reply can only ever reach the ask it answers — and by then that ask
// has given up, so the reply goes to dead letters.
#pragma once

#include <akt/context.hpp>
#include <akt/error.hpp>
#include <akt/message.hpp>

#include <chrono>

namespace akt::detail {

class actor_cell;

// The outcome of a non-blocking request, delivered to the asker's mailbox.
struct continuation_envelope final : envelope {
  continuation_envelope(reply_handler h, result<message> r) : handler(std::move(h)), outcome(std::move(r)) {
    kind = envelope_kind::continuation;
  }
  std::string type_name() const override { return "<request outcome>"; }

  reply_handler handler;
  result<message> outcome;
};

status start_request(actor_cell& asker, const pid& to, envelope_ptr msg, std::chrono::nanoseconds timeout,
                     reply_handler on_reply);

}  // namespace akt::detail
