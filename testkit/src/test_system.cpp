#include <akt/testkit/test_system.hpp>

#include <cstdio>
#include <cstdlib>

namespace akt::testkit {

test_system::test_system(std::string_view name, system_options options) {
  options.deterministic = true;
  if (!options.logger) options.logger = make_discard_logger();
  auto created = actor_system::create(name, std::move(options));
  if (!created) {
    std::fprintf(stderr, "testkit: cannot create test_system: %s\n", created.error().to_string().c_str());
    std::abort();  // a broken test setup, not a runtime condition
  }
  system_ = std::move(*created);
  if (auto s = system_->start(); !s) {
    std::fprintf(stderr, "testkit: cannot start test_system: %s\n", s.error().to_string().c_str());
    std::abort();
  }
}

test_system::~test_system() {
  system_->run_ready();
  (void)system_->stop();
}

}  // namespace akt::testkit
