#!/usr/bin/env node
// Validates rendered Kubernetes manifests (kubectl kustomize output) against the API schemas of kubernetes-models:
// required fields, types and enums; the Prometheus operator's kinds (monitoring.coreos.com) against its CRD schemas.
// Usage: node validate.mjs FILE... (or "-" for standard input).
// Prints one "valid" line per object and exits 1, naming the object and the field, on the first file with errors.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

/** The packages holding the models of custom resources, by API group. */
const customResourcePackages = {
  "monitoring.coreos.com": "@kubernetes-models/prometheus-operator",
};

/**
 * The models module of an apiVersion: "v1" → kubernetes-models/v1, "apps/v1" → kubernetes-models/apps/v1,
 * "monitoring.coreos.com/v1" → @kubernetes-models/prometheus-operator/monitoring.coreos.com/v1.
 */
async function modelFor(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string") {
    throw new Error("apiVersion and kind are required");
  }
  const group = apiVersion.includes("/") ? apiVersion.slice(0, apiVersion.indexOf("/")) : "";
  const modelsPackage = customResourcePackages[group] ?? "kubernetes-models";
  let module;
  try {
    module = await import(`${modelsPackage}/${apiVersion}`);
  } catch {
    throw new Error(`apiVersion '${apiVersion}' is not a known Kubernetes API group/version`);
  }
  const model = module[kind];
  if (typeof model !== "function") {
    throw new Error(`kind '${kind}' does not exist in ${apiVersion}`);
  }
  return model;
}

async function validateText(source, text) {
  const failures = [];
  const seen = new Set();
  let count = 0;
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      failures.push(`${source}: YAML error: ${doc.errors.map((e) => e.message).join("; ")}`);
      continue;
    }
    const object = doc.toJS();
    if (object === null || object === undefined) {
      continue;
    }
    count++;
    const name = `${object.kind ?? "?"}/${object.metadata?.namespace ? object.metadata.namespace + "/" : ""}${object.metadata?.name ?? "?"}`;
    const key = `${object.apiVersion} ${name}`;
    if (seen.has(key)) {
      failures.push(`${source}: ${name} is defined twice`);
    }
    seen.add(key);
    try {
      const Model = await modelFor(object.apiVersion, object.kind);
      new Model(object).validate();
      console.log(`valid ${object.apiVersion} ${name}`);
    } catch (error) {
      const details = Array.isArray(error.errors)
        ? error.errors.map((e) => `${e.instancePath || "/"} ${e.message}${e.params ? " " + JSON.stringify(e.params) : ""}`).join("; ")
        : error.message;
      failures.push(`${source}: ${name}: ${details}`);
    }
  }
  if (count === 0) {
    failures.push(`${source}: no Kubernetes object found`);
  }
  return failures;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node validate.mjs FILE... (\"-\" reads standard input)");
  process.exit(2);
}
const failures = [];
for (const file of files) {
  const text = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
  failures.push(...(await validateText(file === "-" ? "stdin" : file, text)));
}
for (const failure of failures) {
  console.error(`invalid ${failure}`);
}
process.exit(failures.length === 0 ? 0 : 1);
