// Validates deploy/kubernetes/*.yaml: every document against the Kubernetes
// schemas (kubernetes-models), then against what the discovery provider
// needs: the StatefulSet's pod template carries exactly the labels the
// provider selects by, its containers name the ports the provider reads,
// the service account may get, list and watch pods, and the headless
// Service publishes the named ports of pods not yet Ready.
//
//   node validate.mjs [deploy dir] [repository root]
//
// The label keys and port names are read from the provider's own sources,
// so a change there that the manifests do not follow fails here.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(process.argv[3] ?? join(here, "..", ".."));
const deployDir = resolve(process.argv[2] ?? join(root, "deploy", "kubernetes"));

let YAML, models;
try {
  YAML = await import("yaml");
  models = {
    v1: await import("kubernetes-models/v1"),
    "apps/v1": await import("kubernetes-models/apps/v1"),
    "rbac.authorization.k8s.io/v1": await import("kubernetes-models/rbac.authorization.k8s.io/v1"),
  };
} catch (e) {
  console.error(`validate.mjs: ${e.message}\n  run 'npm ci' in ${here} first (./run test does it)`);
  process.exit(1);
}

let passed = 0;
let failed = 0;
function check(ok, what) {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.error(`FAIL: ${what}`);
  }
}

// Schema validation of one object; the error message, or null when valid.
function schemaError(doc) {
  const group = models[doc?.apiVersion];
  const Model = group?.[doc?.kind];
  if (!Model) return `no schema for apiVersion ${doc?.apiVersion}, kind ${doc?.kind}`;
  try {
    new Model(doc).validate();
    return null;
  } catch (e) {
    return e.message;
  }
}

// --- What the provider uses, from its sources.
const podsCpp = readFileSync(join(root, "discovery", "src", "kubernetes", "pods.cpp"), "utf8");
const header = readFileSync(join(root, "discovery", "include", "akt", "discovery", "discovery.hpp"), "utf8");
const selectorFn = podsCpp.slice(podsCpp.indexOf("std::string label_selector("));
const labelKeys = [...selectorFn.slice(0, selectorFn.indexOf("\n}\n")).matchAll(/"?,?(app\.kubernetes\.io\/[a-z-]+)=/g)].map(
  (m) => m[1],
);
const portNames = [...header.matchAll(/inline constexpr std::string_view \w+_port = "([^"]+)"/g)].map((m) => m[1]);
check(
  isDeepStrictEqual(labelKeys, ["app.kubernetes.io/part-of", "app.kubernetes.io/component", "app.kubernetes.io/name"]),
  `the provider's label keys are read from pods.cpp (found ${JSON.stringify(labelKeys)})`,
);
check(portNames.length === 3, `the provider's port names are read from discovery.hpp (found ${JSON.stringify(portNames)})`);

// The labels a pod needs for kubernetes({.system = s, .application = a}):
// part-of = s, component = name = a. True when `labels` are exactly those.
function selectedByProvider(labels) {
  const keys = Object.keys(labels ?? {}).sort();
  if (!isDeepStrictEqual(keys, [...labelKeys].sort())) return false;
  const [partOf, component, name] = labelKeys.map((k) => labels[k]);
  return Boolean(partOf) && Boolean(component) && component === name;
}

// --- Load every document.
const docs = [];
for (const file of readdirSync(deployDir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
  for (const d of YAML.parseAllDocuments(readFileSync(join(deployDir, file), "utf8"))) {
    check(d.errors.length === 0, `${file}: YAML parses (${d.errors.map((e) => e.message).join("; ")})`);
    const obj = d.toJS();
    if (obj !== null) docs.push({ file, obj });
  }
}
for (const { file, obj } of docs) {
  const err = schemaError(obj);
  check(err === null, `${file}: ${obj.kind} ${obj.metadata?.name} matches the Kubernetes schema: ${err}`);
}
const find = (kind) => docs.filter((d) => d.obj.kind === kind).map((d) => d.obj);
const [sts] = find("StatefulSet");
const [svc] = find("Service");
const [sa] = find("ServiceAccount");
const [role] = find("Role");
const [binding] = find("RoleBinding");
check(sts && svc && sa && role && binding, "one StatefulSet, Service, ServiceAccount, Role and RoleBinding");
if (!(sts && svc && sa && role && binding)) process.exit(1);

check(
  new Set(docs.map((d) => d.obj.metadata?.namespace)).size === 1,
  "every object is in the same namespace (the provider looks in its own)",
);

// --- The StatefulSet and the provider.
const template = sts.spec.template;
const podLabels = template.metadata?.labels;
check(selectedByProvider(podLabels), `the pod template's labels are exactly the provider's selector: ${JSON.stringify(podLabels)}`);
check(isDeepStrictEqual(sts.spec.selector.matchLabels, podLabels), "the StatefulSet selects its pods by those labels");
const ports = new Map(template.spec.containers.flatMap((c) => c.ports ?? []).map((p) => [p.name, p.containerPort]));
const expected = { "clients-port": 2379, "peers-port": 2380, "remoting-port": 4000, health: 8080 };
for (const name of portNames) check(ports.has(name), `a container port is named ${name} (the provider reads it)`);
for (const [name, number] of Object.entries(expected)) {
  check(ports.get(name) === number, `container port ${name} is ${number} (found ${ports.get(name)})`);
}
const [main] = template.spec.containers;
check(
  main.readinessProbe?.httpGet?.path === "/readyz" && main.readinessProbe?.httpGet?.port === "health",
  "readiness probe: GET /readyz on the port named health",
);
check(
  main.livenessProbe?.httpGet?.path === "/healthz" && main.livenessProbe?.httpGet?.port === "health",
  "liveness probe: GET /healthz on the port named health",
);
check(sts.spec.serviceName === svc.metadata.name, "the StatefulSet's serviceName is the headless Service");

// --- The headless Service.
check(svc.spec.clusterIP === "None", "the Service is headless (clusterIP: None)");
check(svc.spec.publishNotReadyAddresses === true, "the Service publishes pods that are not Ready yet");
check(isDeepStrictEqual(svc.spec.selector, podLabels), "the Service selects the StatefulSet's pods");
const svcPorts = new Map((svc.spec.ports ?? []).map((p) => [p.name, p]));
for (const [name, number] of Object.entries(expected)) {
  const p = svcPorts.get(name);
  check(p && p.port === number && p.targetPort === name, `the Service's port ${name} is ${number}, to the container port ${name}`);
}

// --- RBAC: the pods' service account may get, list and watch pods.
check(template.spec.serviceAccountName === sa.metadata.name, "the pods run as the ServiceAccount");
check(role.metadata.name === "pod-reader", "the Role is pod-reader (the provider's 403 error names it)");
const podRule = (role.rules ?? []).find((r) => r.apiGroups?.includes("") && r.resources?.includes("pods"));
for (const verb of ["get", "list", "watch"]) check(podRule?.verbs?.includes(verb), `pod-reader may ${verb} pods`);
check(
  binding.roleRef.kind === "Role" && binding.roleRef.name === role.metadata.name,
  "the RoleBinding grants pod-reader",
);
check(
  binding.subjects?.some(
    (s) => s.kind === "ServiceAccount" && s.name === sa.metadata.name && s.namespace === sa.metadata.namespace,
  ),
  "the RoleBinding's subject is the pods' ServiceAccount",
);

// --- The checks can fail: broken copies are refused.
const broken = structuredClone(sts);
broken.spec.template.spec.containers[0].ports[0].containerPort = "2379";
check(schemaError(broken) !== null, "the schema check refuses a containerPort that is a string");
const relabelled = structuredClone(podLabels);
relabelled["app.kubernetes.io/name"] = "billing";
check(!selectedByProvider(relabelled), "the label check refuses a name label other than the component");

console.log(`kubernetes manifests: ${docs.length} documents`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
