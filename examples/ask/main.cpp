// Ask from main: a calculator actor answers Add with Sum. Plain code blocks
// for the reply up to a timeout; an actor that never answers gives a clear
// timeout error instead of a hang.
#include <akt/akt.hpp>

#include <chrono>
#include <cstdio>

#include "messages.pb.h"

using namespace std::chrono_literals;

class calculator : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (auto* add = ctx.message<demo::Add>()) {
      demo::Sum sum;
      sum.set_value(add->a() + add->b());
      ctx.reply(std::move(sum));
    }
    // anything else is ignored, so asking with it times out
  }
};

int main() {
  auto sys = akt::actor_system::create("calc").value();
  if (!sys->start()) return 1;
  auto calc = sys->spawn<calculator>("calculator").value();

  demo::Add add;
  add.set_a(40);
  add.set_b(2);
  akt::result<demo::Sum> sum = calc.ask<demo::Sum>(add, 1s);
  if (!sum) {
    std::fprintf(stderr, "ask failed: %s\n", sum.error().to_string().c_str());
    return 1;
  }
  std::printf("40 + 2 = %lld\n", static_cast<long long>(sum->value()));

  // The calculator ignores a Ping: the ask gives up after 100 ms.
  auto no_answer = calc.ask(demo::Ping{}, 100ms);
  std::printf("asking with a Ping: %s\n", no_answer ? "answered?!" : no_answer.error().to_string().c_str());

  // Asking a stopped actor fails at once.
  (void)calc.stop();
  (void)calc.wait_stopped(1s);
  auto dead = calc.ask(add, 1s);
  std::printf("asking a stopped actor: %s\n", dead ? "answered?!" : dead.error().to_string().c_str());

  return (!no_answer && !dead && sys->stop()) ? 0 : 1;
}
