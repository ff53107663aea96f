// Behaviors and stash: an actor that changes how it handles messages.
//
// A `connection` sends lines of text (`say`) over a link that comes and goes:
//
//   offline (receive)   lines are stashed until `go_online`
//   online              lines go out; `hold_on` pushes a paused behavior on top
//   paused (stacked)    lines are stashed again; `carry_on` pops back to online
//
// become() replaces the behavior, become_stacked() / unbecome_stacked() push
// and pop one on top, unbecome() goes back to receive(). stash() sets the
// message in hand aside; unstash_all() replays them, in order, before
// anything still waiting in the mailbox.
//
// Shows: ctx.become, ctx.become_stacked, ctx.unbecome_stacked, ctx.unbecome,
// ctx.stash, ctx.unstash_all, ctx.stash_size.
#include <akt/akt.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

using namespace std::chrono_literals;

struct say {
  std::string text;
};
struct go_online {};
struct go_offline {};
struct hold_on {};
struct carry_on {};
struct sent_so_far {};  // replies with the lines sent, in order
struct waiting {};      // replies with how many lines are stashed

class connection : public akt::actor {
 public:
  // receive() is the starting behavior: offline.
  void receive(akt::context& ctx) override {
    if (answer_questions(ctx)) return;
    if (ctx.message<say>()) {
      hold_back(ctx, "offline");
    } else if (ctx.message<go_online>()) {
      std::printf("  connection: online\n");
      ctx.become([this](akt::context& c) { online(c); });
      // The stashed lines come back ahead of the mailbox, in the order they came.
      std::printf("  connection: replaying %zu stashed lines\n", ctx.unstash_all());
    }
  }

 private:
  void online(akt::context& ctx) {
    if (answer_questions(ctx)) return;
    if (auto* s = ctx.message<say>()) {
      std::printf("  connection: sent '%s'\n", s->text.c_str());
      sent_.push_back(s->text);
    } else if (ctx.message<hold_on>()) {
      std::printf("  connection: holding on\n");
      ctx.become_stacked([this](akt::context& c) { paused(c); });  // on top of online
    } else if (ctx.message<go_offline>()) {
      std::printf("  connection: offline\n");
      ctx.unbecome();  // back to receive()
    }
  }

  void paused(akt::context& ctx) {
    if (answer_questions(ctx)) return;
    if (ctx.message<say>()) {
      hold_back(ctx, "paused");
    } else if (ctx.message<carry_on>()) {
      std::printf("  connection: carrying on\n");
      ctx.unbecome_stacked();  // pops back to online
      ctx.unstash_all();
    }
  }

  void hold_back(akt::context& ctx, const char* why) {
    const auto* s = ctx.message<say>();
    std::printf("  connection (%s): stashing '%s'\n", why, s->text.c_str());
    if (auto stashed = ctx.stash(); !stashed) {
      // Past system_options::stash_capacity the message is not kept.
      std::printf("  connection: could not stash: %s\n", stashed.error().to_string().c_str());
    }
  }

  // Every behavior answers the same questions.
  bool answer_questions(akt::context& ctx) {
    if (ctx.message<sent_so_far>()) {
      ctx.reply(sent_);
    } else if (ctx.message<waiting>()) {
      ctx.reply(ctx.stash_size());
    } else {
      return false;
    }
    return true;
  }

  std::vector<std::string> sent_;
};

int main() {
  auto sys = akt::actor_system::create("behaviors").value();
  if (!sys->start()) return 1;
  auto c = sys->spawn<connection>("connection").value();

  c.tell(say{"hello"});  // offline: stashed
  c.tell(say{"world"});  // stashed
  c.tell(go_online{});   // replays hello, world
  c.tell(say{"how are you?"});
  c.tell(hold_on{});
  c.tell(say{"later"});  // paused: stashed
  c.tell(carry_on{});    // back to online: replays "later"
  c.tell(go_offline{});
  c.tell(say{"offline"});  // offline again: stashed

  // Asks are answered in any behavior; they queue behind the tells above.
  auto sent = c.ask<std::vector<std::string>>(sent_so_far{}, 1s);
  auto stashed = c.ask<std::size_t>(waiting{}, 1s);
  if (!sent || !stashed) {
    std::fprintf(stderr, "ask failed\n");
    return 1;
  }

  std::printf("sent, in order:");
  for (const auto& s : *sent) std::printf(" '%s'", s.c_str());
  std::printf("\nstill stashed: %zu\n", *stashed);

  const std::vector<std::string> expected{"hello", "world", "how are you?", "later"};
  const bool ok = *sent == expected && *stashed == 1;
  std::printf("%s\n", ok ? "behaviors example: all good" : "behaviors example: unexpected result");
  return (ok && sys->stop()) ? 0 : 1;
}
