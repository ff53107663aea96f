// resolve_options: options, the OTEL_* variables (a fake environment), the
// defaults, and the errors that name what was wrong.
#include "config.hpp"

#include <gtest/gtest.h>

#include <map>

namespace akt::otel::detail {
namespace {

using namespace std::chrono_literals;

class fake_env {
 public:
  fake_env(std::initializer_list<std::pair<const std::string, std::string>> vars) : vars_(vars) {}
  env_reader reader() const {
    return [this](const char* name) -> const char* {
      auto it = vars_.find(name);
      return it == vars_.end() ? nullptr : it->second.c_str();
    };
  }

 private:
  std::map<std::string, std::string> vars_;
};

result<resolved_options> resolve(const options& o, const fake_env& env) {
  return resolve_options(o, "shop", env.reader());
}

// The error's message, or a failure when there was none.
std::string error_of(const result<resolved_options>& r, errc expected = errc::invalid_argument) {
  if (r) {
    ADD_FAILURE() << "resolved, expected an error";
    return "";
  }
  EXPECT_EQ(r.error().code(), expected) << r.error().to_string();
  return r.error().message();
}

TEST(otel_config, defaults_without_options_or_environment) {
  auto r = resolve({}, fake_env{});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->resource.service_name, "shop");
  EXPECT_TRUE(r->resource.attributes.empty());
  EXPECT_EQ(r->export_interval, 60s);
  EXPECT_EQ(r->span_export_interval, 5s);
  EXPECT_EQ(r->otlp.timeout, 10s);
  EXPECT_EQ(r->otlp.max_retries, 5);
  EXPECT_TRUE(r->otlp.metrics_url.empty());
  EXPECT_TRUE(r->otlp.traces_url.empty());
  EXPECT_EQ(r->sample_ratio, 0);
  EXPECT_EQ(r->max_queued_spans, 2048u);
  EXPECT_EQ(r->max_export_batch, 512u);
}

TEST(otel_config, the_general_endpoint_gets_the_signal_paths_even_with_a_trailing_slash) {
  auto r = resolve({}, fake_env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"}});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->otlp.metrics_url, "http://collector:4318/v1/metrics");
  EXPECT_EQ(r->otlp.traces_url, "http://collector:4318/v1/traces");

  auto with_path = resolve({.otlp = {.endpoint = "https://otlp.example.com/prefix"}}, fake_env{});
  ASSERT_TRUE(with_path) << with_path.error().to_string();
  EXPECT_EQ(with_path->otlp.metrics_url, "https://otlp.example.com/prefix/v1/metrics");
}

TEST(otel_config, signal_endpoints_are_used_as_given) {
  auto r = resolve({}, fake_env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://general:4318"},
                                {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999/custom"}});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->otlp.traces_url, "http://traces:9999/custom");
  EXPECT_EQ(r->otlp.metrics_url, "http://general:4318/v1/metrics");

  auto only_metrics = resolve({}, fake_env{{"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:1/x"}});
  ASSERT_TRUE(only_metrics);
  EXPECT_EQ(only_metrics->otlp.metrics_url, "http://m:1/x");
  EXPECT_TRUE(only_metrics->otlp.traces_url.empty());
}

TEST(otel_config, options_set_explicitly_win_over_the_environment) {
  const fake_env env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318"},
                     {"OTEL_EXPORTER_OTLP_HEADERS", "x-env=1"},
                     {"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"},
                     {"OTEL_METRIC_EXPORT_INTERVAL", "1000"},
                     {"OTEL_BSP_SCHEDULE_DELAY", "250"},
                     {"OTEL_TRACES_SAMPLER", "always_on"},
                     {"OTEL_BSP_MAX_QUEUE_SIZE", "100"}};
  auto from_env = resolve({}, env);
  ASSERT_TRUE(from_env) << from_env.error().to_string();
  EXPECT_EQ(from_env->otlp.metrics_url, "http://env:4318/v1/metrics");
  EXPECT_EQ(from_env->otlp.headers, (key_values{{"x-env", "1"}}));
  EXPECT_EQ(from_env->otlp.timeout, 2500ms);
  EXPECT_EQ(from_env->export_interval, 1000ms);
  EXPECT_EQ(from_env->span_export_interval, 250ms);
  EXPECT_EQ(from_env->sample_ratio, 1.0);
  EXPECT_EQ(from_env->max_queued_spans, 100u);
  EXPECT_EQ(from_env->max_export_batch, 100u) << "a batch never exceeds the queue";

  auto r = resolve({.export_interval = 30s,
                    .sample_ratio = 0.25,
                    .max_queued_spans = 4096,
                    .span_export_interval = 2s,
                    .otlp = {.endpoint = "http://opt:4318", .headers = {{"x-opt", "2"}}, .timeout = 700ms}},
                   env);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->otlp.metrics_url, "http://opt:4318/v1/metrics");
  EXPECT_EQ(r->otlp.headers, (key_values{{"x-opt", "2"}}));
  EXPECT_EQ(r->otlp.timeout, 700ms);
  EXPECT_EQ(r->export_interval, 30s);
  EXPECT_EQ(r->span_export_interval, 2s);
  EXPECT_EQ(r->sample_ratio, 0.25);
  EXPECT_EQ(r->max_queued_spans, 4096u);
}

TEST(otel_config, read_environment_false_ignores_every_variable) {
  auto r = resolve({.read_environment = false}, fake_env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318"},
                                                         {"OTEL_SERVICE_NAME", "env-name"},
                                                         {"OTEL_EXPORTER_OTLP_TIMEOUT", "not a number"}});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(r->otlp.metrics_url.empty());
  EXPECT_EQ(r->resource.service_name, "shop");
}

TEST(otel_config, service_name_and_resource_attributes_percent_decoded) {
  auto r = resolve(
      {.resource = {{"team", "payments"}}},
      fake_env{{"OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod%20eu, team=ignored,note=a%2Cb%3Dc ,,service.name=from-attrs"}});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->resource.service_name, "from-attrs");
  EXPECT_EQ(r->resource.attributes,
            (key_values{{"team", "payments"}, {"deployment.environment", "prod eu"}, {"note", "a,b=c"}}));

  auto named = resolve({.service_name = "orders"}, fake_env{{"OTEL_RESOURCE_ATTRIBUTES", "service.name=x"}});
  ASSERT_TRUE(named);
  EXPECT_EQ(named->resource.service_name, "orders");

  auto env_named = resolve({.service_name = "orders"}, fake_env{{"OTEL_SERVICE_NAME", "checkout"}});
  ASSERT_TRUE(env_named);
  EXPECT_EQ(env_named->resource.service_name, "checkout") << "telemetry.hpp: OTEL_SERVICE_NAME comes first";
}

TEST(otel_config, headers_from_the_environment_are_percent_decoded) {
  auto r = resolve({}, fake_env{{"OTEL_EXPORTER_OTLP_HEADERS", "api-key=abc%3D%3D, x-tenant = acme "}});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->otlp.headers, (key_values{{"api-key", "abc=="}, {"x-tenant", "acme"}}));
}

TEST(otel_config, a_header_without_equals_sign_is_invalid_naming_the_variable) {
  const std::string m = error_of(resolve({}, fake_env{{"OTEL_EXPORTER_OTLP_HEADERS", "api-key=1,broken"}}));
  EXPECT_NE(m.find("OTEL_EXPORTER_OTLP_HEADERS"), std::string::npos) << m;
  EXPECT_NE(m.find("\"broken\" has no '='"), std::string::npos) << m;
}

TEST(otel_config, a_header_that_would_smuggle_another_is_invalid) {
  const std::string m = error_of(resolve({.otlp = {.headers = {{"x-a", "1\r\nx-b: 2"}}}}, fake_env{}));
  EXPECT_NE(m.find("otlp.headers"), std::string::npos) << m;
  error_of(resolve({}, fake_env{{"OTEL_EXPORTER_OTLP_HEADERS", "bad name=1"}}));
  error_of(resolve({}, fake_env{{"OTEL_RESOURCE_ATTRIBUTES", "k=%zz"}}));
}

TEST(otel_config, malformed_urls_are_invalid_naming_the_field_and_value) {
  for (const char* url :
       {"ftp://collector:4318", "collector:4318", "http://", "http://:4318", "http://host:0",
        "http://host:65536", "http://host:43a8", "http://host:", "http://ho st:1", "http://[::1"}) {
    const std::string m = error_of(resolve({.otlp = {.endpoint = url}}, fake_env{}));
    EXPECT_NE(m.find("otlp.endpoint"), std::string::npos) << url << ": " << m;
    EXPECT_NE(m.find(url), std::string::npos) << url << ": " << m;
  }
  const std::string m =
      error_of(resolve({}, fake_env{{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "localhost:4318"}}));
  EXPECT_NE(m.find("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT \"localhost:4318\""), std::string::npos) << m;
  EXPECT_NE(m.find("http://"), std::string::npos) << "says what is allowed: " << m;

  for (const char* good : {"http://127.0.0.1:4318", "https://otlp.example.com", "http://[::1]:4318/otlp",
                           "HTTP://Collector:65535/"}) {
    auto r = resolve({.otlp = {.endpoint = good}}, fake_env{});
    EXPECT_TRUE(r) << good << ": " << (r ? "" : r.error().to_string());
  }
}

TEST(otel_config, non_numeric_or_non_positive_numbers_are_invalid_naming_the_variable) {
  for (const char* var :
       {"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_BSP_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"}) {
    for (const char* value : {"ten", "10s", "-5", "0"}) {
      const std::string m = error_of(resolve({}, fake_env{{var, value}}));
      EXPECT_NE(m.find(std::string(var) + " \"" + value + "\""), std::string::npos) << m;
    }
  }
}

TEST(otel_config, samplers_map_to_a_ratio) {
  const auto ratio = [](std::initializer_list<std::pair<const std::string, std::string>> vars) {
    auto r = resolve({}, fake_env(vars));
    EXPECT_TRUE(r) << r.error().to_string();
    return r ? r->sample_ratio : -1.0;
  };
  EXPECT_EQ(ratio({{"OTEL_TRACES_SAMPLER", "always_on"}}), 1.0);
  EXPECT_EQ(ratio({{"OTEL_TRACES_SAMPLER", "parentbased_always_on"}}), 1.0);
  EXPECT_EQ(ratio({{"OTEL_TRACES_SAMPLER", "always_off"}}), 0.0);
  EXPECT_EQ(ratio({{"OTEL_TRACES_SAMPLER", "parentbased_always_off"}}), 0.0);
  EXPECT_EQ(ratio({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0.5"}}), 0.5);
  EXPECT_EQ(ratio({{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "0.01"}}),
            0.01);
  EXPECT_EQ(ratio({{"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"}}), 1.0)
      << "the specification's default";
  EXPECT_EQ(ratio({{"OTEL_TRACES_SAMPLER_ARG", "0.5"}}), 0.0)
      << "an argument without a sampler means nothing";
}

TEST(otel_config, ratios_outside_zero_to_one_and_unknown_samplers_are_invalid) {
  std::string m = error_of(
      resolve({}, fake_env{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "1.5"}}));
  EXPECT_NE(m.find("OTEL_TRACES_SAMPLER_ARG \"1.5\""), std::string::npos) << m;
  error_of(
      resolve({}, fake_env{{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "half"}}));
  m = error_of(resolve({}, fake_env{{"OTEL_TRACES_SAMPLER", "jaeger_remote"}}));
  EXPECT_NE(m.find("parentbased_traceidratio"), std::string::npos) << "lists what is allowed: " << m;
  m = error_of(resolve({.sample_ratio = -0.1}, fake_env{}));
  EXPECT_NE(m.find("options.sample_ratio"), std::string::npos) << m;
  error_of(resolve({.sample_ratio = std::numeric_limits<double>::quiet_NaN()}, fake_env{}));
}

TEST(otel_config, sdk_disabled_exports_nothing_but_still_checks) {
  auto r = resolve({.sample_ratio = 1.0, .otlp = {.endpoint = "http://opt:4318"}},
                   fake_env{{"OTEL_SDK_DISABLED", "TRUE"}});
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_TRUE(r->otlp.metrics_url.empty());
  EXPECT_TRUE(r->otlp.traces_url.empty());
  EXPECT_EQ(r->sample_ratio, 0.0);

  auto not_disabled =
      resolve({.otlp = {.endpoint = "http://opt:4318"}}, fake_env{{"OTEL_SDK_DISABLED", "false"}});
  ASSERT_TRUE(not_disabled);
  EXPECT_FALSE(not_disabled->otlp.metrics_url.empty());

  error_of(resolve({.otlp = {.endpoint = "nope"}}, fake_env{{"OTEL_SDK_DISABLED", "true"}}));
}

}  // namespace
}  // namespace akt::otel::detail
