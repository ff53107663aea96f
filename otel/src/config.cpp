#include "config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

namespace akt::otel::detail {

namespace {

constexpr std::chrono::milliseconds default_timeout{10000};
constexpr std::chrono::milliseconds default_export_interval{60000};
constexpr std::chrono::milliseconds default_span_interval{5000};
constexpr std::size_t default_queue = 2048;  // options' defaults: the specification's
constexpr std::size_t default_batch = 512;

error bad(std::string_view where, std::string_view value, std::string_view what) {
  return error(errc::invalid_argument,
               std::string(where) + " \"" + std::string(value) + "\": " + std::string(what));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out.push_back(s[i]);
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex_digit(s[i + 1]);
    const int lo = hex_digit(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

// "k=v,k2=v2" (W3C baggage's list form, as the OTEL_* variables use it):
// keys and values trimmed and percent-decoded, empty members skipped.
result<key_values> parse_pairs(std::string_view where, std::string_view text) {
  key_values out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view member = trim(text.substr(start, comma - start));
    start = comma + 1;
    if (member.empty()) continue;
    const std::size_t eq = member.find('=');
    if (eq == std::string_view::npos) {
      return bad(where, text,
                 "\"" + std::string(member) + "\" has no '=' (the form is key=value,key2=value2)");
    }
    auto key = percent_decode(trim(member.substr(0, eq)));
    auto value = percent_decode(trim(member.substr(eq + 1)));
    if (!key || !value) {
      return bad(where, text, "\"" + std::string(member) + "\" has a '%' not followed by two hex digits");
    }
    if (key->empty()) return bad(where, text, "\"" + std::string(member) + "\" has an empty key");
    out.emplace_back(std::move(*key), std::move(*value));
  }
  return out;
}

// An HTTP header that cannot smuggle another one in.
status check_header(std::string_view where, const std::string& name, const std::string& value) {
  if (name.empty()) return bad(where, name, "a header name must not be empty");
  for (char c : name) {
    const bool token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!token) return bad(where, name, "a header name may hold letters, digits and !#$%&'*+-.^_`|~ only");
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') {
      return bad(where, name, "the header's value must not contain CR, LF or NUL");
    }
  }
  return {};
}

// http(s)://host[:port][/path...], host a name, an IPv4 or a [IPv6] literal.
status check_url(std::string_view where, std::string_view url) {
  std::string_view rest;
  if (url.size() >= 7 && iequals(url.substr(0, 7), "http://")) {
    rest = url.substr(7);
  } else if (url.size() >= 8 && iequals(url.substr(0, 8), "https://")) {
    rest = url.substr(8);
  } else {
    return bad(where, url, "not an http:// or https:// URL");
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return bad(where, url, "a URL must not contain spaces or control characters");
    }
  }
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return bad(where, url, "an IPv6 host misses its ']'");
    host = authority.substr(0, close + 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad(where, url, "only :port may follow an IPv6 host");
      port = after.substr(1);
      if (port.empty()) return bad(where, url, "the port after ':' is missing (1..65535)");
    }
    if (host.size() == 2) return bad(where, url, "the host is missing");
  } else if (const std::size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
    if (port.empty()) return bad(where, url, "the port after ':' is missing (1..65535)");
  }
  if (host.empty()) return bad(where, url, "the host is missing (the form is http://host[:port][/path])");
  if (!port.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return bad(where, url, "the port \"" + std::string(port) + "\" is not a number in 1..65535");
    }
  }
  return {};
}

std::string join_signal_path(std::string_view base, std::string_view path) {
  while (base.ends_with('/')) base.remove_suffix(1);
  return std::string(base) + std::string(path);
}

// A whole number of milliseconds, more than 0.
result<std::chrono::milliseconds> parse_millis(std::string_view where, std::string_view text) {
  const std::string_view t = trim(text);
  long long value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size()) {
    return bad(where, text, "not a whole number of milliseconds");
  }
  if (value <= 0) return bad(where, text, "must be more than 0 milliseconds");
  return std::chrono::milliseconds(value);
}

result<std::size_t> parse_count(std::string_view where, std::string_view text) {
  const std::string_view t = trim(text);
  std::size_t value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size())
    return bad(where, text, "not a whole number");
  if (value == 0) return bad(where, text, "must be at least 1");
  return value;
}

result<double> parse_ratio(std::string_view where, std::string_view text) {
  const std::string t(trim(text));
  char* end = nullptr;
  const double value = std::strtod(t.c_str(), &end);
  if (t.empty() || end != t.c_str() + t.size() || !std::isfinite(value)) {
    return bad(where, text, "not a number (a ratio in 0..1)");
  }
  if (value < 0 || value > 1) return bad(where, text, "a ratio must be in 0..1");
  return value;
}

// OTEL_TRACES_SAMPLER (+ _ARG) as the share of new traces sampled. Akt's
// sampling always follows a sampled parent, so the parent-based names and
// the plain ones mean the same here.
result<std::optional<double>> sampler_ratio(std::optional<std::string_view> sampler,
                                            std::optional<std::string_view> arg) {
  if (!sampler) return std::optional<double>();
  const std::string_view s = trim(*sampler);
  if (s == "always_on" || s == "parentbased_always_on") return std::optional<double>(1.0);
  if (s == "always_off" || s == "parentbased_always_off") return std::optional<double>(0.0);
  if (s == "traceidratio" || s == "parentbased_traceidratio") {
    if (!arg) return std::optional<double>(1.0);  // the specification's default
    auto r = parse_ratio("OTEL_TRACES_SAMPLER_ARG", *arg);
    if (!r) return r.error();
    return std::optional<double>(*r);
  }
  return bad("OTEL_TRACES_SAMPLER", *sampler,
             "not a sampler Akt has (allowed: always_on, always_off, traceidratio, parentbased_always_on, "
             "parentbased_always_off, parentbased_traceidratio)");
}

}  // namespace

result<resolved_options> resolve_options(const options& o, std::string_view system_name,
                                         const env_reader& env) {
  // An empty variable counts as unset (the specification's rule).
  const auto get = [&](const char* name) -> std::optional<std::string_view> {
    if (!o.read_environment || !env) return std::nullopt;
    const char* v = env(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string_view(v);
  };

  resolved_options r;
  const bool sdk_disabled = get("OTEL_SDK_DISABLED") && iequals(trim(*get("OTEL_SDK_DISABLED")), "true");

  // The resource: options' attributes win over the variable's on a shared key.
  key_values attributes;
  for (const auto& [k, v] : o.resource) {
    if (k.empty()) return bad("options.resource", v, "an attribute's key must not be empty");
    attributes.emplace_back(k, v);
  }
  if (auto text = get("OTEL_RESOURCE_ATTRIBUTES")) {
    auto parsed = parse_pairs("OTEL_RESOURCE_ATTRIBUTES", *text);
    if (!parsed) return parsed.error();
    for (auto& [k, v] : *parsed) {
      const bool known =
          std::any_of(attributes.begin(), attributes.end(), [&](const auto& a) { return a.first == k; });
      if (!known) attributes.emplace_back(std::move(k), std::move(v));
    }
  }
  std::string from_attributes;
  for (auto& [k, v] : attributes) {
    if (k == "service.name") {
      if (from_attributes.empty()) from_attributes = v;
    } else {
      r.resource.attributes.emplace_back(std::move(k), std::move(v));
    }
  }
  if (auto name = get("OTEL_SERVICE_NAME")) {
    r.resource.service_name = std::string(*name);
  } else if (!o.service_name.empty()) {
    r.resource.service_name = o.service_name;
  } else if (!from_attributes.empty()) {
    r.resource.service_name = std::move(from_attributes);
  } else {
    r.resource.service_name = std::string(system_name);
  }

  r.metrics = o.metrics;
  r.prometheus = o.prometheus;

  // Intervals and sizes.
  if (o.export_interval.count() < 0)
    return bad("options.export_interval", std::to_string(o.export_interval.count()), "must not be negative");
  if (o.export_interval.count() > 0) {
    r.export_interval = o.export_interval;
  } else if (auto text = get("OTEL_METRIC_EXPORT_INTERVAL")) {
    auto v = parse_millis("OTEL_METRIC_EXPORT_INTERVAL", *text);
    if (!v) return v.error();
    r.export_interval = *v;
  } else {
    r.export_interval = default_export_interval;
  }
  if (o.span_export_interval.count() < 0) {
    return bad("options.span_export_interval", std::to_string(o.span_export_interval.count()),
               "must not be negative");
  }
  if (o.span_export_interval.count() > 0) {
    r.span_export_interval = o.span_export_interval;
  } else if (auto text = get("OTEL_BSP_SCHEDULE_DELAY")) {
    auto v = parse_millis("OTEL_BSP_SCHEDULE_DELAY", *text);
    if (!v) return v.error();
    r.span_export_interval = *v;
  } else {
    r.span_export_interval = default_span_interval;
  }
  // The sizes' defaults cannot be told from values set on purpose: a value
  // other than the default wins, the default gives way to the variable.
  r.max_queued_spans = o.max_queued_spans;
  if (o.max_queued_spans == default_queue) {
    if (auto text = get("OTEL_BSP_MAX_QUEUE_SIZE")) {
      auto v = parse_count("OTEL_BSP_MAX_QUEUE_SIZE", *text);
      if (!v) return v.error();
      r.max_queued_spans = *v;
    }
  }
  r.max_export_batch = o.max_export_batch;
  if (o.max_export_batch == default_batch) {
    if (auto text = get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")) {
      auto v = parse_count("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", *text);
      if (!v) return v.error();
      r.max_export_batch = *v;
    }
  }
  if (r.max_queued_spans == 0) return bad("max_queued_spans", "0", "must be at least 1");
  if (r.max_export_batch == 0) return bad("max_export_batch", "0", "must be at least 1");
  // The specification's rule: a batch never exceeds the queue.
  r.max_export_batch = std::min(r.max_export_batch, r.max_queued_spans);

  // Sampling: a ratio set in options wins; 0 (the default) gives way to the
  // variables.
  if (!(o.sample_ratio >= 0 && o.sample_ratio <= 1)) {
    return bad("options.sample_ratio", std::to_string(o.sample_ratio), "a ratio must be in 0..1");
  }
  r.sample_ratio = o.sample_ratio;
  if (o.sample_ratio == 0) {
    auto ratio = sampler_ratio(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG"));
    if (!ratio) return ratio.error();
    if (*ratio) r.sample_ratio = **ratio;
  }

  // OTLP: where, with which headers, how long.
  const otlp_options& x = o.otlp;
  const auto endpoint = [&](const std::string& specific, const char* specific_name, const char* specific_var,
                            std::string_view path) -> result<std::string> {
    std::string url;
    std::string_view where;
    if (!specific.empty()) {
      url = specific;
      where = specific_name;
    } else if (!x.endpoint.empty()) {
      url = join_signal_path(x.endpoint, path);
      where = "otlp.endpoint";
    } else if (auto v = get(specific_var)) {
      url = std::string(trim(*v));
      where = specific_var;
    } else if (auto base = get("OTEL_EXPORTER_OTLP_ENDPOINT")) {
      if (auto ok = check_url("OTEL_EXPORTER_OTLP_ENDPOINT", trim(*base)); !ok) return ok.error();
      url = join_signal_path(trim(*base), path);
      where = "OTEL_EXPORTER_OTLP_ENDPOINT";
    } else {
      return std::string();
    }
    if (auto ok = check_url(where, url); !ok) return ok.error();
    return url;
  };
  if (!x.endpoint.empty()) {
    if (auto ok = check_url("otlp.endpoint", x.endpoint); !ok) return ok.error();
  }
  auto metrics_url = endpoint(x.metrics_endpoint, "otlp.metrics_endpoint",
                              "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics");
  if (!metrics_url) return metrics_url.error();
  auto traces_url =
      endpoint(x.traces_endpoint, "otlp.traces_endpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "/v1/traces");
  if (!traces_url) return traces_url.error();
  r.otlp.metrics_url = std::move(*metrics_url);
  r.otlp.traces_url = std::move(*traces_url);

  if (!x.headers.empty()) {
    r.otlp.headers = x.headers;
    for (const auto& [k, v] : r.otlp.headers) {
      if (auto ok = check_header("otlp.headers", k, v); !ok) return ok.error();
    }
  } else if (auto text = get("OTEL_EXPORTER_OTLP_HEADERS")) {
    auto parsed = parse_pairs("OTEL_EXPORTER_OTLP_HEADERS", *text);
    if (!parsed) return parsed.error();
    for (const auto& [k, v] : *parsed) {
      if (auto ok = check_header("OTEL_EXPORTER_OTLP_HEADERS", k, v); !ok) return ok.error();
    }
    r.otlp.headers = std::move(*parsed);
  }

  if (x.timeout.count() < 0)
    return bad("otlp.timeout", std::to_string(x.timeout.count()), "must not be negative");
  if (x.timeout.count() > 0) {
    r.otlp.timeout = x.timeout;
  } else if (auto text = get("OTEL_EXPORTER_OTLP_TIMEOUT")) {
    auto v = parse_millis("OTEL_EXPORTER_OTLP_TIMEOUT", *text);
    if (!v) return v.error();
    r.otlp.timeout = *v;
  } else {
    r.otlp.timeout = default_timeout;
  }
  if (x.max_retries < 0 || x.max_retries > 100) {
    return bad("otlp.max_retries", std::to_string(x.max_retries), "must be in 0..100");
  }
  r.otlp.max_retries = x.max_retries;

  // Disabled: everything is still checked (a typo shows at once), nothing
  // is sampled or sent.
  if (sdk_disabled) {
    r.otlp.metrics_url.clear();
    r.otlp.traces_url.clear();
    r.sample_ratio = 0;
  }
  return r;
}

}  // namespace akt::otel::detail
