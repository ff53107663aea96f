#include <akt/message.hpp>
#include <akt/pid.hpp>

namespace akt {

std::vector<pid> pid::children() const {
  std::vector<pid> out;
  if (!ref_) return out;
  for (auto& c : ref_->children()) out.emplace_back(std::move(c));
  return out;
}

pid message::sender() const {
  return env_ && env_->sender ? pid(env_->sender) : pid();
}

namespace detail {

status actor_ref::deliver_wire(const wire_message& m, actor_ref* sender,
                               const trace_context* trace) noexcept {
  (void)sender;
  (void)trace;
  return error(errc::invalid_argument, "a " + std::string(m.type) + " sent as wire bytes to " + path() +
                                           ", which is not a remote actor");
}

error null_pid_error() {
  return error(errc::dead_actor, "the pid is null: it refers to no actor");
}

}  // namespace detail
}  // namespace akt
