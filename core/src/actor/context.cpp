#include <akt/actor_system.hpp>
#include <akt/context.hpp>

#include "actor/actor_cell.hpp"
#include "actor/cell_extras.hpp"
#include "ask/ask.hpp"
#include "system/system_core.hpp"

namespace akt {

using detail::actor_ref;
using detail::ref_ptr;

std::string context::message_type_name() const {
  return env_ ? env_->type_name() : std::string("<none>");
}

pid context::self() const noexcept {
  return pid(ref_ptr<actor_ref>::share(cell_));
}

pid context::sender() const noexcept {
  return env_ && env_->sender ? pid(env_->sender) : pid();
}

pid context::parent() const noexcept {
  return pid(cell_->parent());
}

std::vector<pid> context::children() const {
  return self().children();
}

actor_system& context::system() const noexcept {
  return *cell_->system().facade;
}

akt::logger& context::logger() const noexcept {
  return cell_->system().log();
}

status context::reply_envelope(detail::envelope_ptr reply) {
  if (env_ == nullptr) {
    return error(errc::no_message,
                 "reply from " + cell_->path() + " outside receive: there is no message to answer");
  }
  if (replied_) {
    return error(errc::already_replied, cell_->path() + " already answered this " + env_->type_name() +
                                            "; a message gets one reply");
  }
  match_ |= matched;
  detail::stamp_outgoing(*reply);
  if (env_->reply_to) {
    replied_ = true;
    if (!env_->reply_to->complete(reply)) {
      cell_->system().dead_letter(std::move(reply),
                                  error(errc::request_timeout, "late reply: the asker stopped waiting"));
    }
    return {};
  }
  if (env_->sender) {
    replied_ = true;
    return env_->sender->deliver(std::move(reply));
  }
  return error(errc::no_sender, "cannot reply to " + env_->type_name() + " in " + cell_->path() +
                                    ": it was told from outside any actor, so there is no one to answer");
}

status context::forward(const pid& to) {
  if (held_ == nullptr || !*held_) {
    return error(errc::no_message, "forward from " + cell_->path() + ": there is no message in hand");
  }
  if (!to) return detail::null_pid_error();
  detail::envelope_ptr e = std::move(*held_);
  env_ = nullptr;
  return to.ref()->deliver(std::move(e));  // keeps its sender, asker and trace
}

akt::message context::take_message() {
  if (held_ == nullptr || !*held_) return akt::message();
  env_ = nullptr;
  return akt::message(std::move(*held_));
}

result<response_promise> context::make_response_promise() {
  if (env_ == nullptr) {
    return error(errc::no_message,
                 "make_response_promise in " + cell_->path() + ": there is no message in hand");
  }
  if (replied_) {
    return error(errc::already_replied, cell_->path() + " already answered this " + env_->type_name());
  }
  if (!env_->reply_to && !env_->sender) {
    return error(errc::no_sender,
                 "cannot answer " + env_->type_name() + " in " + cell_->path() +
                     " later: it was told from outside any actor, so there is no one to answer");
  }
  replied_ = true;  // the promise answers from now on
  match_ |= matched;
  response_promise p;
  p.sink_ = std::move(env_->reply_to);  // the promise alone answers now
  if (!p.sink_) p.to_ = env_->sender;
  p.self_ = ref_ptr<actor_ref>::share(cell_);
  p.trace_ = env_->trace;
  p.what_ = env_->type_name();
  p.pending_ = true;
  return p;
}

response_promise& response_promise::operator=(response_promise&& o) noexcept {
  if (this != &o) {
    if (pending_)
      (void)fail(error(errc::no_reply, "the promise to answer " + what_ + " was replaced unanswered"));
    sink_ = std::move(o.sink_);
    to_ = std::move(o.to_);
    self_ = std::move(o.self_);
    trace_ = std::move(o.trace_);
    what_ = std::move(o.what_);
    pending_ = std::exchange(o.pending_, false);
  }
  return *this;
}

response_promise::~response_promise() {
  if (pending_)
    (void)fail(error(errc::no_reply, "the promise to answer " + what_ + " was dropped unanswered"));
}

status response_promise::deliver_envelope(detail::envelope_ptr reply) {
  if (!pending_) {
    return error(errc::already_replied,
                 "this promise to answer " + what_ + " was already used (or is empty)");
  }
  pending_ = false;
  reply->sender = self_;
  reply->trace = trace_;
  if (sink_) {
    if (!sink_->complete(reply) && self_) {
      if (auto* cell = self_->as_local()) {
        cell->system().dead_letter(std::move(reply),
                                   error(errc::request_timeout, "late reply: the asker stopped waiting"));
      }
    }
    return {};
  }
  return to_->deliver(std::move(reply));
}

status response_promise::fail(error e) {
  if (!pending_) return error(errc::already_replied, "this promise to answer " + what_ + " was already used");
  pending_ = false;
  if (sink_) sink_->fail(std::move(e));
  return {};
}

status context::request_envelope(const pid& to, detail::envelope_ptr msg, std::chrono::nanoseconds timeout,
                                 reply_handler on_reply) {
  return detail::start_request(*cell_, to, std::move(msg), timeout, std::move(on_reply));
}

status context::stop(const pid& child) {
  if (!child) return detail::null_pid_error();
  if (child.ref()->parent().get() != cell_) {
    return error(errc::not_found, child.path() + " is not a child of " + cell_->path());
  }
  // pid::stop of a stopped actor is a no-op; the parent is told it was too late.
  if (child.ref()->as_local()->state() == detail::cell_state::terminated) {
    return error(errc::dead_actor, child.path() + " has already stopped");
  }
  return child.ref()->request_stop();
}

void context::stop_self() {
  cell_->stop_self();
}

result<pid> context::spawn_with(spawn_options options, detail::ref_ptr<detail::actor_factory> factory) {
  return cell_->system().spawn(cell_, std::move(options), std::move(factory));
}

void context::fail(error e) {
  cell_->report_failure(std::move(e));
}

status context::watch(const pid& other) {
  if (!other) return detail::null_pid_error();
  if (other.ref().get() == cell_)
    return error(errc::invalid_argument, cell_->path() + " cannot watch itself");
  auto& watching = cell_->ensure_extras().watching;
  for (const auto& w : watching) {
    if (w == other.ref()) return {};  // already watching: still one terminated
  }
  watching.push_back(other.ref());
  return other.ref()->add_watcher(*cell_);
}

status context::unwatch(const pid& other) {
  if (!other) return detail::null_pid_error();
  auto* x = cell_->extras();
  if (x == nullptr) return {};
  auto& w = x->watching;
  for (auto it = w.begin(); it != w.end(); ++it) {
    if (*it == other.ref()) {
      w.erase(it);
      other.ref()->remove_watcher(*cell_);
      break;
    }
  }
  return {};
}

void context::become(behavior b) {
  cell_->ensure_extras().behavior_ops.emplace_back(detail::cell_extras::behavior_op::become, std::move(b));
  cell_->after_work_ = true;
}
void context::become_stacked(behavior b) {
  cell_->ensure_extras().behavior_ops.emplace_back(detail::cell_extras::behavior_op::push, std::move(b));
  cell_->after_work_ = true;
}
void context::unbecome() {
  cell_->ensure_extras().behavior_ops.emplace_back(detail::cell_extras::behavior_op::reset, nullptr);
  cell_->after_work_ = true;
}
void context::unbecome_stacked() {
  cell_->ensure_extras().behavior_ops.emplace_back(detail::cell_extras::behavior_op::pop, nullptr);
  cell_->after_work_ = true;
}

status context::stash() {
  if (held_ == nullptr || !*held_) {
    return error(errc::no_message, "stash in " + cell_->path() + ": there is no message in hand");
  }
  auto& x = cell_->ensure_extras();
  const std::size_t limit = cell_->system().options().stash_capacity;
  if (x.stash.size() >= limit) {
    return error(errc::mailbox_full, "the stash of " + cell_->path() + " is full (" + std::to_string(limit) +
                                         " messages; see system_options::stash_capacity)");
  }
  x.stash.push_back(std::move(*held_));
  env_ = nullptr;
  return {};
}

bool context::unstash() {
  auto* x = cell_->extras();
  if (x == nullptr || x->stash.empty()) return false;
  x->replay.insert(x->replay.begin() + static_cast<std::ptrdiff_t>(x->unstash_at++),
                   std::move(x->stash.front()));
  x->stash.pop_front();
  cell_->after_work_ = true;  // resets unstash_at
  return true;
}

std::size_t context::unstash_all() {
  auto* x = cell_->extras();
  if (x == nullptr) return 0;
  const std::size_t n = x->stash.size();
  for (auto& m : x->stash) {
    x->replay.insert(x->replay.begin() + static_cast<std::ptrdiff_t>(x->unstash_at++), std::move(m));
  }
  x->stash.clear();
  cell_->after_work_ = true;  // resets unstash_at
  return n;
}

std::size_t context::stash_size() const noexcept {
  const auto* x = cell_->extras();
  return x == nullptr ? 0 : x->stash.size();
}

}  // namespace akt
