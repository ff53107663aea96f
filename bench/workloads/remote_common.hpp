// remote_common.hpp — the two-process setup of remote_tell and remote_ask:
// the client forks and execs itself with --server; the server enables
// remoting on 127.0.0.1 port 0, spawns its actor and writes "PORT <n>" to
// its stdout (a pipe to the client); it exits when the client dies
// (PR_SET_PDEATHSIG), when stdin closes, or after 300 s.
#pragma once

#include <akt/remote/remoting.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <thread>

#include "bench.pb.h"
#include "common.hpp"

namespace bench {

// The secured default: the nodes prove a shared secret in the handshake,
// and a sender waits for credit rather than fail when it outruns the
// receiver (flow control is on, as for every user).
// With AKT_BENCH_TLS_DIR set (ca.pem, node.pem, node.key for 127.0.0.1),
// mutual TLS as well.
inline akt::remote::remoting_options node_options() {
  akt::remote::remoting_options o{.host = "127.0.0.1",
                                  .port = 0,
                                  .secret = "akt-bench-shared-secret-0123456789",
                                  .backpressure_wait = std::chrono::seconds(10)};
  // AKT_BENCH_IO_NOT_BATCH set: the I/O thread keeps the default policy
  // (to measure what remoting_options::batch_io_thread does).
  if (std::getenv("AKT_BENCH_IO_NOT_BATCH")) o.batch_io_thread = false;
  if (const char* dir = std::getenv("AKT_BENCH_TLS_DIR")) {
    const std::string d(dir);
    o.tls = akt::remote::tls_options{.certificate_file = d + "/node.pem",
                                     .private_key_file = d + "/node.key",
                                     .ca_file = d + "/ca.pem",
                                     .mutual = true};
  }
  return o;
}

inline void register_bench_messages(akt::actor_system& sys) {
  sys.registry().register_message<akt_bench::Payload>();
  sys.registry().register_message<akt_bench::Start>();
  sys.registry().register_message<akt_bench::Done>();
}

struct server_process {
  pid_t pid = -1;
  std::uint16_t port = 0;
};

// Starts `argv0 --server <workload>` and reads the port it listens on.
inline server_process start_server(const char* argv0, const char* workload) {
  int out[2];
  int in[2];
  if (pipe(out) != 0 || pipe(in) != 0) fail("remote: pipe failed");
  const pid_t child = fork();
  if (child < 0) fail("remote: fork failed");
  if (child == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    dup2(out[1], STDOUT_FILENO);
    dup2(in[0], STDIN_FILENO);
    close(out[0]);
    close(in[1]);
    execl(argv0, argv0, "--server", workload, static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  close(in[0]);
  FILE* from = fdopen(out[0], "r");
  unsigned port = 0;
  if (from == nullptr || std::fscanf(from, "PORT %u", &port) != 1 || port == 0)
    fail("remote: the server did not report its port");
  return server_process{child, static_cast<std::uint16_t>(port)};
}

inline void stop_server(server_process& s) {
  if (s.pid > 0) {
    kill(s.pid, SIGTERM);
    waitpid(s.pid, nullptr, 0);
  }
}

// The server side: runs until stdin closes (the client is gone) or 300 s.
inline int serve(const std::function<void(akt::actor_system&)>& spawn_actors) {
  auto sys = start_system("server");
  register_bench_messages(*sys);
  spawn_actors(*sys);
  auto node = akt::remote::remoting::enable(*sys, node_options());
  if (!node) fail("remote server: " + node.error().to_string());
  std::printf("PORT %u\n", static_cast<unsigned>((*node)->port()));
  std::fflush(stdout);
  std::thread watchdog([] {
    std::this_thread::sleep_for(std::chrono::seconds(300));
    _exit(2);
  });
  watchdog.detach();
  char c;
  while (read(STDIN_FILENO, &c, 1) > 0) {
  }
  stop_system(*sys);
  return 0;
}

inline std::string payload_bytes() {
  return std::string(32, 'x');
}

}  // namespace bench
