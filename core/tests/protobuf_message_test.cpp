// Protocol Buffers messages are first-class: tell, ask and reply take the
// generated objects directly, dispatch is by their type, and local delivery
// moves the object (never serializes it).
//
// Needs core/tests/proto/test_messages.proto generated into the test target
// (protobuf_generate in core/CMakeLists.txt). Without it this file compiles
// to one failing test that says so, instead of breaking the whole build.
#include "test_util.hpp"

#include <akt/akt.hpp>

#include <gtest/gtest.h>

#if __has_include("test_messages.pb.h")
#include "test_messages.pb.h"

#include <memory>
#include <string>

namespace {

using namespace akt_test;
using namespace std::chrono_literals;

static_assert(akt::protobuf_message<akttest::Ping>, "generated messages are detected as protobuf messages");
static_assert(!akt::protobuf_message<ping>, "plain structs are not");

akttest::Ping make_ping(std::int64_t seq) {
  akttest::Ping p;
  p.set_seq(seq);
  return p;
}

// Answers Ping with Pong{seq + 1}, Text with Text (reversed body), and
// answers anything else with a Text naming the type it got.
class proto_echo : public akt::actor {
 public:
  void receive(akt::context& ctx) override {
    if (auto* p = ctx.message<akttest::Ping>()) {
      akttest::Pong pong;
      pong.set_seq(p->seq() + 1);
      (void)ctx.reply(std::move(pong));
    } else if (auto* t = ctx.message<akttest::Text>()) {
      akttest::Text back;
      back.set_body(std::string(t->body().rbegin(), t->body().rend()));
      (void)ctx.reply(std::move(back));
    } else {
      akttest::Text what;
      what.set_body(ctx.message_type_name());
      (void)ctx.reply(std::move(what));
    }
  }
};

TEST(protobuf_message, ask_and_reply_with_generated_messages) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<proto_echo>("echo");
  ASSERT_TRUE(echo);
  auto r = echo->ask<akttest::Pong>(make_ping(41), 5s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_EQ(r->seq(), 42);

  akttest::Text text;
  text.set_body("abc");
  auto t = echo->ask<akttest::Text>(text, 5s);  // an lvalue is copied in, and still works
  ASSERT_TRUE(t) << outcome(t);
  EXPECT_EQ(t->body(), "cba");
  EXPECT_EQ(text.body(), "abc") << "a message passed as lvalue is left intact";
}

TEST(protobuf_message, dispatch_and_type_names_use_the_full_protobuf_name) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<proto_echo>("echo");
  ASSERT_TRUE(echo);
  akttest::Pong pong;
  auto r = echo->ask(std::move(pong), 5s);
  ASSERT_TRUE(r) << outcome(r);
  EXPECT_EQ(r->type_name(), "akttest.Text");
  ASSERT_TRUE(r->is<akttest::Text>());
  EXPECT_FALSE(r->is<akttest::Pong>());
  EXPECT_EQ(r->get<akttest::Text>()->body(), "akttest.Pong") << "ctx.message_type_name() of a protobuf";
}

TEST(protobuf_message, typed_ask_with_another_protobuf_reply_fails_with_unexpected_reply) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<proto_echo>("echo");
  ASSERT_TRUE(echo);
  auto r = echo->ask<akttest::Text>(make_ping(1), 5s);  // the reply is a Pong
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::unexpected_reply);
  EXPECT_NE(r.error().message().find("akttest.Pong"), std::string::npos) << r.error().message();
}

TEST(protobuf_message, local_tell_moves_the_object_without_serializing) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto arrived = std::make_shared<guarded<const char*>>();
  auto a = sys->spawn_fn("sink", [arrived](akt::context& ctx) {
    if (auto* t = ctx.message<akttest::Text>()) arrived->set(t->body().data());
  });
  ASSERT_TRUE(a);
  akttest::Text text;
  text.set_body(std::string(1000, 'x'));  // heap-allocated, far past any small-string buffer
  const char* address = text.body().data();
  ASSERT_TRUE(a->tell(std::move(text)));
  ASSERT_TRUE(wait_until([&] { return arrived->has(); }));
  EXPECT_EQ(arrived->get(), address)
      << "the receiver holds the very string the sender built: the message was moved, not serialized";
}

TEST(protobuf_message, tell_between_actors_and_reply_to_sender) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<proto_echo>("echo");
  ASSERT_TRUE(echo);
  auto got = std::make_shared<std::atomic<std::int64_t>>(0);
  auto target = *echo;
  auto a = sys->spawn_fn("a", [got, target](akt::context& ctx) {
    if (auto* p = ctx.message<akttest::Ping>()) {
      (void)ctx.tell(target, std::move(*p));
    } else if (auto* pong = ctx.message<akttest::Pong>()) {
      *got = pong->seq();
    }
  });
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->tell(make_ping(99)));
  EXPECT_TRUE(wait_until([&] { return got->load() == 100; })) << got->load();
}

TEST(protobuf_message, request_with_a_protobuf_message) {
  auto sys = start_system("sys");
  ASSERT_TRUE(sys);
  auto echo = sys->spawn<proto_echo>("echo");
  ASSERT_TRUE(echo);
  auto got = std::make_shared<std::atomic<std::int64_t>>(0);
  auto target = *echo;
  auto a = sys->spawn_fn("a", [got, target](akt::context& ctx) {
    if (ctx.message<ping>()) {
      (void)ctx.request(target, make_ping(6), 5s, [got](akt::context&, akt::result<akt::message> r) {
        if (r && r->is<akttest::Pong>())
          *got = r->get<akttest::Pong>()->seq();
        else
          *got = -1;
      });
    }
  });
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->tell(ping{}));
  ASSERT_TRUE(wait_until([&] { return got->load() != 0; }));
  EXPECT_EQ(got->load(), 7);
}

}  // namespace

#else

TEST(protobuf_message, test_messages_proto_is_generated_into_the_test_target) {
  FAIL() << "test_messages.pb.h not found: add protobuf_generate for core/tests/proto/test_messages.proto "
            "to akt_core_tests in core/CMakeLists.txt";
}

#endif
