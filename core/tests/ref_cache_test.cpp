// The worker's reference cache (dispatch/ref_cache.hpp): references dropped
// into it are taken out again or given back, never lost and never freed
// early, however many objects pass through it.
#include "dispatch/ref_cache.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace {

using akt::detail::drop_ref;
using akt::detail::flush_refs;
using akt::detail::reuse_ref;
using akt::detail::tls_ref_cache;

// Counts its own destruction instead of freeing itself.
class counted : public akt::detail::ref_counted {
 public:
  explicit counted(int* destroyed) : destroyed_(destroyed) {}

 private:
  void destroy() const noexcept override { ++*destroyed_; }
  int* destroyed_;
};

struct active_cache {
  active_cache() { tls_ref_cache.active = true; }
  ~active_cache() {
    flush_refs();
    tls_ref_cache.active = false;
  }
};

TEST(ref_cache, a_dropped_reference_is_taken_again_without_touching_the_count) {
  active_cache on;
  int destroyed = 0;
  counted o(&destroyed);  // one reference (the constructor's)
  o.add_ref();            // two
  drop_ref(&o);           // cached: the object still counts two
  EXPECT_TRUE(reuse_ref(&o));
  EXPECT_FALSE(reuse_ref(&o)) << "the cache gave out a reference it did not hold";
  o.release();  // back to one
  EXPECT_EQ(destroyed, 0);
  o.release();
  EXPECT_EQ(destroyed, 1);
}

TEST(ref_cache, many_objects_through_the_cache_are_all_given_back_exactly_once) {
  // Far more objects than the cache has slots, several references each, in
  // an order that evicts and reuses: every object is destroyed exactly once
  // when its last reference is given back, and not before.
  constexpr int n = 1000;
  std::vector<int> destroyed(n, 0);
  std::vector<std::unique_ptr<counted>> objects;
  for (int i = 0; i < n; ++i) objects.push_back(std::make_unique<counted>(&destroyed[i]));
  {
    active_cache on;
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < n; ++i) {
        objects[i]->add_refs(2);
        drop_ref(objects[i].get());
        if ((i + round) % 3 == 0) {
          if (!reuse_ref(objects[i].get())) objects[i]->add_ref();  // as schedule() does
          objects[i]->release();
        }
        drop_ref(objects[i].get(), 1);
      }
    }
    for (int i = 0; i < n; ++i) EXPECT_EQ(destroyed[i], 0) << "object " << i << " was freed early";
    for (int i = 0; i < n; ++i) drop_ref(objects[i].get());  // the constructor's reference
  }                                                          // flushed here
  for (int i = 0; i < n; ++i) EXPECT_EQ(destroyed[i], 1) << "object " << i;
}

TEST(ref_cache, two_objects_taking_turns_never_leave_the_cache) {
  active_cache on;
  int destroyed = 0;
  counted a(&destroyed), b(&destroyed);
  a.add_refs(1000);
  b.add_refs(1000);
  for (int i = 0; i < 1000; ++i) {
    drop_ref(&a);
    drop_ref(&b);
    ASSERT_TRUE(reuse_ref(&a)) << "round " << i;
    ASSERT_TRUE(reuse_ref(&b)) << "round " << i;
  }
  a.release_refs(1000);
  b.release_refs(1000);
  EXPECT_EQ(destroyed, 0);
}

}  // namespace
