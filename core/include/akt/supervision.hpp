// akt/supervision.hpp — what happens when an actor fails.
//
// A failure is an exception escaping receive (or a request's reply handler),
// or an error the actor reports with context::fail. It is caught once, by
// the dispatcher: the actor's `errors` counter grows, the failing message
// goes to dead letters, and the actor's *supervisor* — its parent, or the
// system's guardian for top-level actors — decides with its strategy:
//
//   resume    keep the instance and its state; go on with the next message
//   restart   post_stop on the old instance, a fresh one from the actor's
//             factory, its pre_start; queued messages survive; children are
//             stopped first (as in Akka: a new instance starts with none)
//   stop      stop the actor (Terminated goes to its watchers)
//   escalate  the supervisor fails in its turn, and *its* supervisor decides
//
//   auto strategy = akt::supervisor_strategy::one_for_one()
//                       .on<std::invalid_argument>(akt::directive::resume)
//                       .on(akt::errc::mailbox_full, akt::directive::stop)
//                       .otherwise(akt::directive::restart)
//                       .with_retries(3, std::chrono::seconds(1))      // a 4th failure in 1 s stops it
//                       .with_backoff(10ms, 1s);                       // delays between restarts
//   sys->spawn<parent>({.name = "p", .supervisor = strategy});        // p supervises its children so
//
// Whose strategy governs whom. In Akt (as in Akka classic) a strategy is
// given to the *parent* and governs the failures of its *children*:
// spawn_options::supervisor of "p" decides for every child of p; the
// system's default (system_options::supervisor) decides for top-level
// actors and for parents that set none. GoAkt reads the other way: the
// supervisor passed when spawning an actor (WithSupervisorDirective)
// governs that actor's own failures. A GoAkt program that spawns workers
// each "with" a restart spec becomes, in Akt, a parent spawned with that
// strategy whose children are the workers (examples/supervision shows it).
//
// one_for_one applies the directive to the failing child only; one_for_all
// to all the supervisor's children (restart or stop them all).
//
// Retry budget: at most `max_restarts` restarts within `window`; the failure
// that would exceed it stops the child instead (logged at error level), and
// under one_for_all its siblings with it, as in Erlang/OTP and Akka.
// Backoff: the n-th restart within the window waits min(max, min * 2^(n-1)).
// Settings are checked when the strategy is used (see validate).
//
// Thread safety: a strategy is immutable once handed to a spawn; share it freely.
#pragma once

#include <akt/error.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <typeinfo>
#include <vector>

namespace akt {

enum class directive : std::uint8_t { resume, restart, stop, escalate };
std::string_view to_string(directive d) noexcept;

// What the supervisor is told about a failure.
struct failure_info {
  std::string what;              // the exception's what() or the error's text
  std::optional<errc> code;      // set for context::fail(error)
  std::exception_ptr exception;  // set for an exception
  std::string actor_path;        // who failed
};

class supervisor_strategy {
 public:
  enum class scope : std::uint8_t { one_for_one, one_for_all };

  static supervisor_strategy one_for_one() { return supervisor_strategy(scope::one_for_one); }
  static supervisor_strategy one_for_all() { return supervisor_strategy(scope::one_for_all); }

  // Exceptions of type E (or derived from it) get `d`. Rules are tried in order.
  template <class E>
  supervisor_strategy& on(directive d) {
    rules_.push_back(rule{[](const failure_info& f) {
                            if (!f.exception) return false;
                            try {
                              std::rethrow_exception(f.exception);
                            } catch (const E&) {
                              return true;
                            } catch (...) {
                              return false;
                            }
                          },
                          d});
    return *this;
  }
  // Errors reported with context::fail that carry `code` get `d`.
  supervisor_strategy& on(errc code, directive d) {
    rules_.push_back(rule{[code](const failure_info& f) { return f.code == code; }, d});
    return *this;
  }
  // Everything no rule matched (default: restart).
  supervisor_strategy& otherwise(directive d) {
    default_ = d;
    return *this;
  }
  supervisor_strategy& with_retries(std::uint32_t max_restarts, std::chrono::milliseconds window) {
    max_restarts_ = max_restarts;
    window_ = window;
    return *this;
  }
  supervisor_strategy& with_backoff(std::chrono::milliseconds min, std::chrono::milliseconds max) {
    backoff_min_ = min;
    backoff_max_ = max;
    return *this;
  }

  // Whether the settings make sense: no negative duration, a backoff max
  // not below its min. A spawn (or actor_system::create) given a strategy
  // that fails this fails with it (errc::invalid_argument).
  status validate() const {
    auto ms = [](std::chrono::milliseconds d) { return std::to_string(d.count()) + " ms"; };
    auto invalid = [](std::string what) {
      return error(errc::invalid_argument, "invalid supervisor strategy: " + std::move(what));
    };
    if (window_.count() < 0) return invalid("retry window " + ms(window_) + " is negative");
    if (backoff_min_.count() < 0) return invalid("backoff min " + ms(backoff_min_) + " is negative");
    if (backoff_max_.count() < 0) return invalid("backoff max " + ms(backoff_max_) + " is negative");
    if (backoff_max_ < backoff_min_) {
      return invalid("backoff max " + ms(backoff_max_) + " is below min " + ms(backoff_min_) +
                     " (max must be at least min; a zero min means no backoff)");
    }
    return {};
  }

  directive decide(const failure_info& f) const {
    for (const auto& r : rules_) {
      if (r.matches(f)) return r.d;
    }
    return default_;
  }
  scope applies_to() const noexcept { return scope_; }
  // 0 = unlimited restarts.
  std::uint32_t max_restarts() const noexcept { return max_restarts_; }
  std::chrono::milliseconds window() const noexcept { return window_; }
  // The delay before the n-th restart (n >= 1) within the window.
  std::chrono::milliseconds backoff(std::uint32_t n) const noexcept {
    if (backoff_min_.count() <= 0 || n == 0) return std::chrono::milliseconds(0);
    auto d = backoff_min_;
    for (std::uint32_t i = 1; i < n && d < backoff_max_; ++i) d *= 2;
    return d < backoff_max_ ? d : backoff_max_;
  }

 private:
  explicit supervisor_strategy(scope s) : scope_(s) {}
  struct rule {
    std::function<bool(const failure_info&)> matches;
    directive d;
  };

  scope scope_;
  std::vector<rule> rules_;
  directive default_ = directive::restart;
  std::uint32_t max_restarts_ = 0;
  std::chrono::milliseconds window_{0};
  std::chrono::milliseconds backoff_min_{0};
  std::chrono::milliseconds backoff_max_{0};
};

}  // namespace akt
