// Supervision: let it crash, and let the parent decide what happens next.
//
// A `parser` counts the lines it parses. It is the child of a `team_lead`,
// whose strategy says what to do when the parser fails:
//
//   a bad line (std::invalid_argument)  resume: skip the line, keep the count
//   anything else                       restart: a fresh parser, count back to 0
//   more than 3 restarts within 1 s     stop the parser for good
//
// The team lead also *watches* the parser, so it hears (akt::terminated)
// when the parser is finally stopped.
//
// Whose strategy is it? The strategy is the team lead's (given when the team
// lead is spawned) and governs its children: the parser's failures. In GoAkt
// the spec would be passed when spawning the parser itself
// (WithSupervisorDirective) and govern the parser's own failures; here a
// parent owns the rule for all its children, as in Akka.
//
// Shows: supervisor_strategy, spawn_options::supervisor, the resume / restart /
// stop directives, the retry budget, ctx.watch and akt::terminated, and the
// restarts counter in pid::metrics().
#include <akt/akt.hpp>

#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>

using namespace std::chrono_literals;

struct line {  // plain C++ types are messages too (locally)
  std::string text;
};
struct how_many {};

class parser : public akt::actor {
 public:
  akt::status pre_start(akt::context& ctx) override {
    std::printf("  %s starts with a count of 0\n", ctx.self().path().c_str());
    return {};
  }

  void receive(akt::context& ctx) override {
    if (auto* l = ctx.message<line>()) {
      // Throwing is fine: the failure goes to the supervisor, never to the
      // code that sent the message.
      if (l->text.empty()) throw std::invalid_argument("empty line");
      if (l->text == "corrupt") throw std::runtime_error("parser state corrupted");
      ++parsed_;
    } else if (ctx.message<how_many>()) {
      ctx.reply(parsed_);
    }
  }

  void post_stop(akt::context&) override { std::printf("  parser stops (its count was %d)\n", parsed_); }

 private:
  int parsed_ = 0;  // plain state: one message at a time, so no lock
};

class team_lead : public akt::actor {
 public:
  explicit team_lead(std::shared_ptr<std::promise<void>> parser_gone)
      : parser_gone_(std::move(parser_gone)) {}

  akt::status pre_start(akt::context& ctx) override {
    auto child = ctx.spawn<parser>("parser");
    if (!child) return std::move(child).error();
    return ctx.watch(*child);  // we get akt::terminated when it stops
  }

  void receive(akt::context& ctx) override {
    if (auto* t = ctx.message<akt::terminated>()) {
      std::printf("  team lead: %s has stopped for good\n", t->actor.path().c_str());
      parser_gone_->set_value();
    }
  }

 private:
  std::shared_ptr<std::promise<void>> parser_gone_;
};

namespace {

int count_of(const akt::pid& p) {
  auto n = p.ask<int>(how_many{}, 1s);
  return n ? *n : -1;
}

bool check(bool ok, const char* what) {
  std::printf("%s %s\n", ok ? "[ok]  " : "[FAIL]", what);
  return ok;
}

}  // namespace

int main() {
  // The runtime logs each failure, and the retry budget running out, at error
  // level on stderr; the info lines (system started/stopped) are left out.
  auto sys =
      akt::actor_system::create("supervision", {.logger = akt::make_stderr_logger(akt::log_level::error)});
  if (!sys || !(*sys)->start()) return 1;
  auto& system = **sys;

  // The strategy is plain data, built once and shared.
  auto strategy =
      std::make_shared<const akt::supervisor_strategy>(akt::supervisor_strategy::one_for_one()
                                                           .on<std::invalid_argument>(akt::directive::resume)
                                                           .otherwise(akt::directive::restart)
                                                           .with_retries(3, 1s));

  auto parser_gone = std::make_shared<std::promise<void>>();
  auto gone = parser_gone->get_future();
  // The strategy goes to the *parent*: it supervises its children with it.
  auto lead = system.spawn<team_lead>({.name = "lead", .supervisor = strategy}, parser_gone);
  if (!lead) return 1;
  auto p = system.lookup("lead/parser").value();
  bool ok = true;

  std::printf("\n1. two good lines, then an empty one (std::invalid_argument -> resume)\n");
  p.tell(line{"alpha"});
  p.tell(line{"beta"});
  p.tell(line{""});
  p.tell(line{"gamma"});
  ok &= check(count_of(p) == 3, "resumed: the count survived the bad line (3)");
  ok &= check(p.metrics().errors == 1 && p.metrics().restarts == 0, "one error, no restart");

  std::printf("\n2. a corrupt line (std::runtime_error -> restart)\n");
  p.tell(line{"corrupt"});
  p.tell(line{"delta"});  // queued behind the failure: the fresh parser gets it
  ok &= check(count_of(p) == 1, "restarted: a fresh parser counted only the line after the failure (1)");
  ok &= check(p.metrics().restarts == 1, "metrics().restarts is 1");

  std::printf("\n3. three more corrupt lines: the 4th failure within 1 s exhausts the budget\n");
  for (int i = 0; i < 3; ++i) p.tell(line{"corrupt"});
  ok &= check(p.wait_stopped(2s).has_value(), "the parser was stopped");
  ok &= check(gone.wait_for(2s) == std::future_status::ready, "its watcher heard of it");
  ok &= check(p.metrics().restarts == 3, "after 3 restarts");

  // Messages to a stopped actor are refused and counted as dead letters.
  auto late = p.tell(line{"too late"});
  ok &= check(!late && late.code() == akt::errc::dead_actor, "a tell to it now fails with dead_actor");
  std::printf("dead letters so far: %llu (the failing lines and the late one)\n",
              static_cast<unsigned long long>(system.dead_letters()));

  ok &= system.stop().has_value();
  std::printf("\n%s\n", ok ? "supervision example: all good" : "supervision example: something went wrong");
  return ok ? 0 : 1;
}
