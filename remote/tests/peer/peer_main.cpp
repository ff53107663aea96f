// akt_remote_test_peer: a node in a second process for failure_test.cpp.
//
//   akt_remote_test_peer [--port N] [--secret S] [--nofile N] [--heartbeat-ms N]
//                        [--silent N] [--handshake-ms N] [--system NAME]
//
// Runs a system with remoting on 127.0.0.1 and these actors:
//   echo  Ping -> Pong (same seq), Add -> Sum
//   hold  keeps every ask unanswered; Ping{seq = -1} -> Pong{seq = asks held}
//   sink  takes Pings, answers nothing
// --nofile lowers RLIMIT_NOFILE first (descriptor exhaustion tests).
// Prints "port <N>" on stdout once it serves; logs to stderr (info); exits
// when stdin closes (its test went away) or on a signal.
#include <akt/remote/remoting.hpp>

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "messages.pb.h"

namespace {

struct args {
  std::uint16_t port = 0;
  std::string secret;
  long nofile = 0;
  long heartbeat_ms = 1000;
  long silent = 3;
  long handshake_ms = 5000;
  std::string system = "peer";
};

bool parse(int argc, char** argv, args& a) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const char* v = argv[i + 1];
    if (k == "--port") {
      a.port = static_cast<std::uint16_t>(std::atol(v));
    } else if (k == "--secret") {
      a.secret = v;
    } else if (k == "--nofile") {
      a.nofile = std::atol(v);
    } else if (k == "--heartbeat-ms") {
      a.heartbeat_ms = std::atol(v);
    } else if (k == "--silent") {
      a.silent = std::atol(v);
    } else if (k == "--handshake-ms") {
      a.handshake_ms = std::atol(v);
    } else if (k == "--system") {
      a.system = v;
    } else {
      std::fprintf(stderr, "peer: unknown option %s\n", k.c_str());
      return false;
    }
  }
  return (argc % 2) == 1;
}

}  // namespace

int main(int argc, char** argv) {
  args a;
  if (!parse(argc, argv, a)) return 2;
  if (a.nofile > 0) {
    rlimit r{static_cast<rlim_t>(a.nofile), static_cast<rlim_t>(a.nofile)};
    if (setrlimit(RLIMIT_NOFILE, &r) != 0) {
      std::perror("peer: setrlimit");
      return 2;
    }
  }
  auto sys = akt::actor_system::create(a.system, {.workers = 2}).value();
  if (!sys->start()) return 3;
  auto& types = sys->registry();
  types.register_message<demo::Ping>();
  types.register_message<demo::Pong>();
  types.register_message<demo::Add>();
  types.register_message<demo::Sum>();
  auto net =
      akt::remote::remoting::enable(*sys, {.host = "127.0.0.1",
                                           .port = a.port,
                                           .secret = a.secret,
                                           .heartbeat_interval = std::chrono::milliseconds(a.heartbeat_ms),
                                           .silent_heartbeats = static_cast<std::uint32_t>(a.silent),
                                           .handshake_timeout = std::chrono::milliseconds(a.handshake_ms)});
  if (!net) {
    std::fprintf(stderr, "peer: %s\n", net.error().to_string().c_str());
    return 4;
  }
  auto ok = sys->spawn_fn("echo", [](akt::context& ctx) {
    if (auto* p = ctx.message<demo::Ping>()) {
      demo::Pong r;
      r.set_seq(p->seq());
      (void)ctx.reply(std::move(r));
    } else if (auto* add = ctx.message<demo::Add>()) {
      demo::Sum s;
      s.set_value(add->a() + add->b());
      (void)ctx.reply(std::move(s));
    }
  });
  auto held = std::make_shared<std::vector<akt::response_promise>>();
  auto hold = sys->spawn_fn("hold", [held](akt::context& ctx) {
    if (auto* p = ctx.message<demo::Ping>()) {
      if (p->seq() == -1) {
        demo::Pong r;
        r.set_seq(static_cast<long long>(held->size()));
        (void)ctx.reply(std::move(r));
      } else if (auto promise = ctx.make_response_promise()) {
        held->push_back(std::move(*promise));
      }
    }
  });
  auto sink = sys->spawn_fn("sink", [](akt::context& ctx) { (void)ctx.is<demo::Ping>(); });
  if (!ok || !hold || !sink) return 5;
  std::printf("port %u\n", static_cast<unsigned>((*net)->port()));
  std::fflush(stdout);
  char buf[256];
  while (read(0, buf, sizeof buf) > 0) {
  }
  (void)sys->stop();
  return 0;
}
