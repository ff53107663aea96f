// The etcd client against a real etcd (single member, started here).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include <akt/testkit/metric_recorder.hpp>
#include "etcd_server.hpp"

namespace {

using namespace std::chrono_literals;
using akt::cluster::detail::etcd_client;
using akt::cluster::detail::etcd_event;

class etcd_client_test : public ::testing::Test {
 protected:
  akt_test::etcd_server etcd_;
  etcd_client client_{{.endpoints = {etcd_.endpoint()}}};
};

TEST_F(etcd_client_test, put_get_and_prefix_reads) {
  ASSERT_TRUE(client_.put("/t/a", "1"));
  ASSERT_TRUE(client_.put("/t/b", "2"));
  ASSERT_TRUE(client_.put("/u/c", "3"));
  auto one = client_.get("/t/a");
  ASSERT_TRUE(one && *one) << (one ? "absent" : one.error().to_string());
  EXPECT_EQ((*one)->value, "1");
  auto range = client_.get_prefix("/t/");
  ASSERT_TRUE(range) << range.error().to_string();
  ASSERT_EQ(range->kvs.size(), 2u);
  EXPECT_EQ(range->kvs[0].key, "/t/a");
  EXPECT_EQ(range->kvs[1].value, "2");
  EXPECT_GT(range->revision, 0);
  auto none = client_.get("/t/zz");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_F(etcd_client_test, create_is_exclusive_and_names_the_holder) {
  auto first = client_.create("/names/orders", "node-a", 0);
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_FALSE(*first) << "created";
  auto second = client_.create("/names/orders", "node-b", 0);
  ASSERT_TRUE(second);
  ASSERT_TRUE(*second) << "refused";
  EXPECT_EQ((*second)->value, "node-a");
  auto wrong = client_.erase_if("/names/orders", "node-b");
  ASSERT_TRUE(wrong);
  EXPECT_FALSE(*wrong) << "not ours to release";
  auto right = client_.erase_if("/names/orders", "node-a");
  ASSERT_TRUE(right);
  EXPECT_TRUE(*right);
  auto again = client_.create("/names/orders", "node-b", 0);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
}

TEST_F(etcd_client_test, a_lease_keeps_its_keys_until_revoked) {
  auto lease = client_.grant_lease(5s);
  ASSERT_TRUE(lease) << lease.error().to_string();
  ASSERT_TRUE(client_.put("/leased", "x", *lease));
  auto ttl = client_.keep_alive(*lease);
  ASSERT_TRUE(ttl) << ttl.error().to_string();
  EXPECT_GT(*ttl, 0);
  ASSERT_TRUE(client_.revoke_lease(*lease));
  auto gone = client_.get("/leased");
  ASSERT_TRUE(gone);
  EXPECT_FALSE(*gone) << "revoking the lease deleted its key";
  auto dead = client_.keep_alive(*lease);
  ASSERT_TRUE(dead);
  EXPECT_LE(*dead, 0);
}

TEST_F(etcd_client_test, a_watch_sees_puts_and_deletes_in_order) {
  auto start = client_.get_prefix("/w/");
  ASSERT_TRUE(start);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<etcd_event> seen;
  auto w = client_.watch(
      "/w/", start->revision + 1,
      [&](const std::vector<etcd_event>& events, std::int64_t) {
        std::lock_guard g(mu);
        seen.insert(seen.end(), events.begin(), events.end());
        cv.notify_all();
      },
      [](akt::status) {});
  ASSERT_TRUE(w) << w.error().to_string();
  ASSERT_TRUE(client_.put("/w/1", "a"));
  ASSERT_TRUE(client_.put("/w/2", "b"));
  ASSERT_TRUE(client_.erase("/w/1"));
  ASSERT_TRUE(client_.put("/other", "c"));
  std::unique_lock g(mu);
  ASSERT_TRUE(cv.wait_for(g, 10s, [&] { return seen.size() >= 3; }));
  EXPECT_EQ(seen[0].kv.key, "/w/1");
  EXPECT_FALSE(seen[0].deleted);
  EXPECT_EQ(seen[1].kv.key, "/w/2");
  EXPECT_TRUE(seen[2].deleted);
  EXPECT_EQ(seen.size(), 3u) << "nothing outside the prefix";
}

TEST_F(etcd_client_test, an_etcd_that_is_down_is_a_clear_error_within_the_deadline) {
  etcd_.stop();
  etcd_client quick({.endpoints = {etcd_.endpoint()}, .request_timeout = 500ms});
  const auto t0 = std::chrono::steady_clock::now();
  auto r = quick.get("/x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.code(), akt::errc::unavailable) << r.error().to_string();
  EXPECT_NE(r.error().message().find(etcd_.endpoint()), std::string::npos) << r.error().message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
}

TEST_F(etcd_client_test, a_dead_first_endpoint_fails_over_to_the_next) {
  const std::string dead = "127.0.0.1:" + std::to_string(akt_test::free_port());
  etcd_client both({.endpoints = {dead, etcd_.endpoint()}, .request_timeout = 3s});
  ASSERT_TRUE(both.put("/fo", "1")) << "the second endpoint answered";
  auto r = both.get("/fo");
  ASSERT_TRUE(r && *r);
}

TEST_F(etcd_client_test, calls_are_timed_by_operation_and_failures_counted_as_errors) {
  akt::cluster::detail::etcd_metrics metrics;
  etcd_client timed({.endpoints = {etcd_.endpoint()}, .request_timeout = 500ms, .metrics = &metrics});
  ASSERT_TRUE(timed.put("/m/a", "1"));
  ASSERT_TRUE(timed.put("/m/b", "2"));
  ASSERT_TRUE(timed.get("/m/a"));
  etcd_.stop();
  ASSERT_FALSE(timed.get("/m/a"));
  akt::testkit::metric_recorder r;
  metrics.report(r, {"akt.system", "test"});
  auto puts = r.find("akt.cluster.etcd.duration", {{"akt.etcd.operation", "put"}});
  ASSERT_EQ(puts.size(), 1u);
  EXPECT_EQ(puts[0]->count, 2u);
  EXPECT_EQ(puts[0]->attributes.at("akt.system"), "test");
  EXPECT_EQ(r.value("akt.cluster.etcd.errors", {{"akt.etcd.operation", "put"}}), 0);
  auto reads = r.find("akt.cluster.etcd.duration", {{"akt.etcd.operation", "range"}});
  ASSERT_EQ(reads.size(), 1u);
  EXPECT_EQ(reads[0]->count, 2u);
  EXPECT_GE(reads[0]->sum, 0.4) << "the failed read waited for its deadline";
  EXPECT_EQ(reads[0]->buckets.back() + reads[0]->buckets[reads[0]->buckets.size() - 2], 0u) << "under 5 s";
  EXPECT_EQ(r.value("akt.cluster.etcd.errors", {{"akt.etcd.operation", "range"}}), 1);
  EXPECT_EQ(r.all().size(), 4u) << "no series for operations never made";
}

}  // namespace
