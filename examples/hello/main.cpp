// An actor that receives messages: a greeter counts the people it greets.
//
// Shows: an actor class with pre_start / receive / post_stop, a protobuf
// message and a plain C++ message, spawn by name, tell, an inbox that lets
// main receive, unhandled messages, and a graceful stop.
#include <akt/akt.hpp>

#include <cstdio>

#include "messages.pb.h"

struct how_many {};  // plain C++ types are messages too (locally)

class greeter : public akt::actor {
 public:
  akt::status pre_start(akt::context& ctx) override {
    std::printf("%s is ready\n", ctx.self().path().c_str());
    return {};
  }

  void receive(akt::context& ctx) override {
    if (auto* greet = ctx.message<demo::Greet>()) {
      ++greeted_;
      std::printf("hello, %s!\n", greet->name().c_str());
    } else if (ctx.message<how_many>()) {
      ctx.reply(greeted_);
    } else {
      ctx.unhandled();  // counted, published, dead-lettered; an asker hears errc::unhandled at once
    }
  }

  void post_stop(akt::context&) override { std::printf("greeter stops after %d greetings\n", greeted_); }

 private:
  int greeted_ = 0;
};

int main() {
  auto sys = akt::actor_system::launch("hello");  // created and started
  if (!sys) {
    std::fprintf(stderr, "launch: %s\n", sys.error().to_string().c_str());
    return 1;
  }
  auto& system = **sys;

  auto greeter_pid = system.spawn<greeter>("greeter");
  if (!greeter_pid) {
    std::fprintf(stderr, "spawn: %s\n", greeter_pid.error().to_string().c_str());
    return 1;
  }
  for (const char* name : {"Ada", "Grace", "Barbara"}) {
    demo::Greet greet;
    greet.set_name(name);
    greeter_pid->tell(std::move(greet));
  }

  // An ask waits for the three greetings queued before it.
  auto count = greeter_pid->ask<int>(how_many{}, std::chrono::seconds(1));
  if (!count || *count != 3) {
    std::fprintf(stderr, "expected 3 greetings\n");
    return 1;
  }
  std::printf("greeted %d people\n", *count);

  // main receives through an inbox: the greeter answers it like any sender.
  akt::inbox in(system);
  in.tell(*greeter_pid, how_many{});
  auto again = in.receive<int>(std::chrono::seconds(1));
  if (!again || *again != 3) return 1;
  std::printf("the inbox heard %d\n", *again);
  in.tell(*greeter_pid, 3.14);  // nothing in greeter takes a double
  in.tell(*greeter_pid, how_many{});
  (void)in.receive<int>(std::chrono::seconds(1));  // handled after the double
  std::printf("unhandled messages: %llu\n", static_cast<unsigned long long>(system.unhandled_messages()));
  return system.stop() ? 0 : 1;
}
