// Internal pieces of supervision shared by the cell and the system.
#pragma once

#include <akt/detail/envelope.hpp>
#include <akt/supervision.hpp>

namespace akt::detail {

// A child's failure handed up to its parent (directive::escalate): the
// parent handles it in its own turn as a failure of its own.
struct escalated_envelope final : envelope {
  explicit escalated_envelope(failure_info f) : info(std::move(f)) { kind = envelope_kind::escalated; }
  std::string type_name() const override { return "<escalated failure>"; }
  failure_info info;
};

// The strategy used when neither the parent nor the system set one:
// one_for_one, restart on any failure, no budget.
const supervisor_strategy& default_strategy() noexcept;

}  // namespace akt::detail
