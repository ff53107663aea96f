// TLS between nodes, with certificates made at run time by the openssl tool:
// mutual TLS works end to end; a plain peer, or one whose certificate comes
// from an authority the node does not trust, is refused at the handshake
// and the node keeps serving everyone else.
#include <akt/remote/remoting.hpp>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "messages.pb.h"

namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A CA and a node certificate for 127.0.0.1 signed by it, in `dir`.
bool make_pki(const fs::path& dir, const std::string& name) {
  const std::string d = dir.string();
  const std::string ec = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string cmd = "cd '" + d + "' && openssl req -x509" + ec + " -keyout " + name + "-ca.key -out " +
                          name + "-ca.pem -days 1 -subj /CN=" + name + "-ca 2>/dev/null && openssl req" + ec +
                          " -keyout " + name + ".key -out " + name + ".csr -subj /CN=" + name +
                          " 2>/dev/null && printf 'subjectAltName=IP:127.0.0.1\\n' > " + name +
                          ".ext && openssl x509 -req -in " + name + ".csr -CA " + name + "-ca.pem -CAkey " +
                          name + "-ca.key -CAcreateserial -out " + name + ".pem -days 1 -extfile " + name +
                          ".ext 2>/dev/null";
  return std::system(cmd.c_str()) == 0;
}

class tls_test : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("akt-tls-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    ASSERT_TRUE(make_pki(dir_, "good")) << "openssl could not make the test certificates";
    ASSERT_TRUE(make_pki(dir_, "other"));
  }
  void TearDown() override { fs::remove_all(dir_); }

  akt::remote::tls_options tls(const std::string& who, const std::string& trusts, bool mutual) const {
    return {.certificate_file = (dir_ / (who + ".pem")).string(),
            .private_key_file = (dir_ / (who + ".key")).string(),
            .ca_file = (dir_ / (trusts + "-ca.pem")).string(),
            .mutual = mutual};
  }

  static std::unique_ptr<akt::actor_system> start(const char* name) {
    auto sys = akt::actor_system::create(name, {.logger = akt::make_discard_logger()}).value();
    EXPECT_TRUE(sys->start());
    sys->registry().register_message<demo::Add>();
    sys->registry().register_message<demo::Sum>();
    (void)sys->spawn_fn("calc", [](akt::context& ctx) {
      if (auto* add = ctx.message<demo::Add>()) {
        demo::Sum s;
        s.set_value(add->a() + add->b());
        (void)ctx.reply(std::move(s));
      }
    });
    return sys;
  }

  static akt::result<demo::Sum> add_remotely(akt::remote::remoting& from, std::uint16_t port) {
    auto calc = from.lookup("127.0.0.1", port, "calc", 5s);
    if (!calc) return calc.error();
    demo::Add add;
    add.set_a(20);
    add.set_b(22);
    return calc->ask<demo::Sum>(add, 5s);
  }

  fs::path dir_;
};

TEST_F(tls_test, mutual_tls_carries_asks_both_ways) {
  auto a = start("tls-a");
  auto b = start("tls-b");
  auto na = akt::remote::remoting::enable(*a, {.tls = tls("good", "good", true)});
  auto nb = akt::remote::remoting::enable(*b, {.tls = tls("good", "good", true)});
  ASSERT_TRUE(na && nb) << (na ? nb.error().to_string() : na.error().to_string());
  auto sum = add_remotely(**na, (*nb)->port());
  ASSERT_TRUE(sum) << sum.error().to_string();
  EXPECT_EQ(sum->value(), 42);
  auto back = add_remotely(**nb, (*na)->port());
  ASSERT_TRUE(back) << back.error().to_string();
}

TEST_F(tls_test, a_plain_peer_is_refused_and_the_node_keeps_serving) {
  auto a = start("plain-a");
  auto b = start("tls-b");
  auto c = start("tls-c");
  auto na = akt::remote::remoting::enable(*a).value();  // no TLS
  auto nb = akt::remote::remoting::enable(*b, {.tls = tls("good", "good", true)}).value();
  auto nc = akt::remote::remoting::enable(*c, {.tls = tls("good", "good", true)}).value();
  auto refused = add_remotely(*na, nb->port());
  EXPECT_FALSE(refused) << "a plain peer cannot talk to a TLS node";
  auto served = add_remotely(*nc, nb->port());
  ASSERT_TRUE(served) << served.error().to_string();
  EXPECT_EQ(served->value(), 42);
}

TEST_F(tls_test, a_certificate_from_an_untrusted_authority_is_refused) {
  auto a = start("tls-a");
  auto b = start("tls-b");
  auto na = akt::remote::remoting::enable(*a, {.tls = tls("other", "good", true)})
                .value();  // cert signed by "other"
  auto nb = akt::remote::remoting::enable(*b, {.tls = tls("good", "good", true)}).value();
  auto r = add_remotely(*na, nb->port());
  EXPECT_FALSE(r);
  // Under TLS 1.3 the server rejects the client's certificate after the
  // client has finished its side: the count may land a moment later.
  const auto until = std::chrono::steady_clock::now() + 5s;
  while (nb->handshakes_refused() + na->handshakes_refused() == 0 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_GE(nb->handshakes_refused() + na->handshakes_refused(), 1u) << "the failed handshake is counted";
}

TEST_F(tls_test, a_missing_certificate_file_is_a_clear_error) {
  auto a = start("tls-a");
  auto t = tls("good", "good", false);
  t.certificate_file = (dir_ / "nope.pem").string();
  auto na = akt::remote::remoting::enable(*a, {.tls = t});
  ASSERT_FALSE(na);
  EXPECT_EQ(na.code(), akt::errc::invalid_argument);
  EXPECT_NE(na.error().message().find("nope.pem"), std::string::npos) << na.error().message();
}

}  // namespace
