// fanout (CAF 0.17): the same program as bench/workloads/fanout.cpp. One
// plain thread (main, sending with anon_send: no actor behind it) sends N
// small messages round robin to 60 actors; each keeps a running checksum
// and reports it when it has seen its share.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "caf/all.hpp"

using namespace caf;

using done_atom = atom_constant<atom("done")>;

namespace {

constexpr int actor_count = 60;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  std::_Exit(1);
}

struct worker_state {
  int64_t count = 0;
  uint64_t sum = 0;
};

behavior worker(stateful_actor<worker_state>* self, int64_t share, actor reply_to) {
  return {
      [=](uint64_t) {
        auto& st = self->state;
        st.sum = st.sum * 31 + 7;
        if (++st.count == share) self->send(reply_to, done_atom::value, st.sum);
      },
  };
}

}  // namespace

int main(int argc, char** argv) {
  const long long n = argc > 1 ? std::atoll(argv[1]) : 10000000;
  if (n < actor_count) fail("fanout: N must be >= 60");
  const int64_t share = n / actor_count;
  const long long sent = share * actor_count;
  uint64_t expected = 0;
  for (int64_t i = 0; i < share; ++i) expected = expected * 31 + 7;

  actor_system_config cfg;
  actor_system sys{cfg};
  {
    scoped_actor self{sys};
    std::vector<actor> workers;
    for (int i = 0; i < actor_count; ++i)
      workers.push_back(sys.spawn(worker, share, actor_cast<actor>(self)));
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < share; ++i)
      for (const actor& w : workers) anon_send(w, static_cast<uint64_t>(i));
    uint64_t checksum = 0;
    for (int i = 0; i < actor_count; ++i) {
      self->receive([&](done_atom, uint64_t s) { checksum += s; },
                    after(std::chrono::seconds(110)) >> [&] { fail("fanout: timeout"); });
    }
    auto t1 = std::chrono::steady_clock::now();
    if (checksum != expected * actor_count) fail("fanout: wrong checksum");
    const double s = std::chrono::duration<double>(t1 - t0).count();
    std::printf("BENCH fanout caf %lld msgs_per_s=%.0f msgs/s elapsed_s=%.4f actors=%d\n", sent, sent / s, s,
                actor_count);
    std::fflush(stdout);
    for (const actor& w : workers) anon_send_exit(w, exit_reason::user_shutdown);
  }
  return 0;
}
