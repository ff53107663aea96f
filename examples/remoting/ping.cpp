// The ping process: looks up "pong" on another node (its port on the command
// line, or it starts the pong process itself), then asks it five times from
// main and tells it once from an actor that receives the reply.
#include <akt/remote/remoting.hpp>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <string>

#include "messages.pb.h"

using namespace std::chrono_literals;

// Starts the pong example next to this binary and reads its port.
static int start_pong(const std::string& self, pid_t& child) {
  int out[2], in[2];
  if (pipe(out) != 0 || pipe(in) != 0) return 0;
  child = fork();
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out[1], STDOUT_FILENO);
    dup2(in[0], STDIN_FILENO);
    const std::string pong = self.substr(0, self.rfind('/') + 1) + "example_remoting_pong";
    execl(pong.c_str(), pong.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  close(in[0]);
  unsigned port = 0;
  FILE* from = fdopen(out[0], "r");
  if (from == nullptr || std::fscanf(from, "PORT %u", &port) != 1) return 0;
  return static_cast<int>(port);
}

int main(int argc, char** argv) {
  pid_t child = -1;
  const int port = argc > 1 ? std::atoi(argv[1]) : start_pong(argv[0], child);
  if (port <= 0) {
    std::fprintf(stderr, "no pong node to talk to\n");
    return 1;
  }
  auto sys = akt::actor_system::launch("ping-node").value();
  sys->registry().register_message<demo::Ping>();
  sys->registry().register_message<demo::Pong>();
  const char* secret = std::getenv("AKT_REMOTE_SECRET");  // the same on every node
  auto* node = akt::remote::remoting::enable(*sys, {.secret = secret ? secret : "demo-secret-change-me"})
                   .value();  // owned by sys
  int status = 0;
  {
    auto pong = node->lookup("127.0.0.1", static_cast<std::uint16_t>(port), "pong", 5s);
    if (!pong) {
      std::fprintf(stderr, "lookup: %s\n", pong.error().to_string().c_str());
      return 1;
    }
    std::printf("found %s\n", pong->path().c_str());
    for (int i = 0; i < 5; ++i) {
      demo::Ping ping;
      ping.set_seq(i);
      auto reply = pong->ask<demo::Pong>(ping, 2s);
      if (!reply || reply->seq() != i) {
        std::fprintf(stderr, "ask %d: %s\n", i, reply ? "wrong reply" : reply.error().to_string().c_str());
        status = 1;
        break;
      }
      std::printf("ping -> Pong(%lld)\n", static_cast<long long>(reply->seq()));
    }
    // An actor tells; the remote pong replies to that actor, across the wire.
    std::promise<long long> got;
    auto future = got.get_future();
    auto pinger = sys->spawn_fn("pinger", [&got, target = *pong](akt::context& ctx) {
      if (ctx.message<std::string>()) {
        demo::Ping ping;
        ping.set_seq(42);
        (void)ctx.tell(target, std::move(ping));
      } else if (auto* p = ctx.message<demo::Pong>()) {
        got.set_value(p->seq());
      }
    });
    (void)pinger->tell(std::string("go"));
    if (future.wait_for(5s) != std::future_status::ready || future.get() != 42) {
      std::fprintf(stderr, "the actor did not get its Pong\n");
      status = 1;
    } else {
      std::printf("pinger got Pong(42) from the other process\n");
    }
  }
  (void)sys->stop();  // the actors, then remoting, then the workers
  if (child > 0) {
    kill(child, SIGTERM);
    waitpid(child, nullptr, 0);
  }
  return status;
}
