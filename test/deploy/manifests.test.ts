/**
 * deploy/kubernetes/*.yaml and deploy/Dockerfile, checked without a cluster or a container daemon: every manifest
 * validates against the Kubernetes API schema (kubernetes-models' validators, generated from Kubernetes' OpenAPI
 * spec), the ConfigMap's config is one the gateway accepts, and the pieces agree: the grace period covers the drain
 * delay plus the shutdown deadline, the probes ask the admin port, every file the config reads is a key of a
 * Secret or ConfigMap mounted as a directory at that path, the container runs non-root on a read-only root.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { parseConfig, type GatewayConfig } from '../../src/gateway/config.js';
import { watchedPaths } from '../../src/gateway/watch.js';
import { REPO } from '../helpers/build.js';

const DIR = join(REPO, 'deploy', 'kubernetes');

const MODELS = {
  'apps/v1 Deployment': Deployment,
  'v1 Service': Service,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget,
  'v1 ConfigMap': ConfigMap,
  'v1 Secret': Secret,
} as const;

type Doc = { apiVersion: string; kind: string; metadata: { name: string } } & Record<string, unknown>;

function manifests(): Array<{ file: string; doc: Doc }> {
  return readdirSync(DIR)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(DIR, file), 'utf8')).map((d) => {
        assert.deepEqual(d.errors, [], file);
        return { file, doc: d.toJS() as Doc };
      }),
    );
}

const all = manifests();
const one = <T>(kind: string, name?: string): T => {
  const found = all.filter((m) => m.doc.kind === kind && (name === undefined || m.doc.metadata.name === name));
  assert.equal(found.length, 1, `one ${kind} ${name ?? ''}`);
  return found[0]!.doc as unknown as T;
};

const deployment = one<Deployment>('Deployment');
const pod = deployment.spec!.template.spec!;
const container = pod.containers[0]!;
const configMapDoc = one<ConfigMap>('ConfigMap');
const configPath = (container.args ?? [])[container.args!.indexOf('--config') + 1]!;
const cfg: GatewayConfig = parseConfig(configMapDoc.data![basename(configPath)]!, configPath);

test('every manifest validates against the Kubernetes schema; a broken one does not', () => {
  const kinds = new Set<string>();
  for (const { file, doc } of all) {
    const key = `${doc.apiVersion} ${doc.kind}` as keyof typeof MODELS;
    const Model = MODELS[key];
    assert.ok(Model, `${file}: ${key} is not a kind these checks know`);
    assert.doesNotThrow(() => new Model(doc as never).validate(), `${file}: ${doc.kind} ${doc.metadata.name}`);
    kinds.add(doc.kind);
  }
  assert.deepEqual([...kinds].sort(), ['ConfigMap', 'Deployment', 'PodDisruptionBudget', 'Secret', 'Service']);
  // The validator is not a rubber stamp: a port given as a name where a number belongs, a Service without ports.
  const broken = structuredClone(deployment) as unknown as {
    spec: { template: { spec: { containers: IContainer[] } } };
  };
  (broken.spec.template.spec.containers[0]!.ports![0] as { containerPort: unknown }).containerPort = 'https';
  assert.throws(() => new Deployment(broken as never).validate(), /containerPort/);
  const service = structuredClone(one<Service>('Service'));
  (service.spec as { ports?: unknown }).ports = [{ targetPort: 'https' }];
  assert.throws(() => new Service(service).validate(), /port/);
});

test("the ConfigMap's config is valid for mtlsgate, watches its files and drains on SIGTERM", () => {
  assert.equal(cfg.watch.enabled, true);
  assert.ok(cfg.shutdown.drainDelayMs > 0, 'a drain delay, so endpoint removal propagates first');
  assert.equal(cfg.listen.port, Number(container.ports![0]!.containerPort));
});

test('terminationGracePeriodSeconds covers shutdown.drainDelayMs + timeouts.shutdownMs', () => {
  const needS = (cfg.shutdown.drainDelayMs + cfg.timeouts.shutdownMs) / 1000;
  assert.ok(pod.terminationGracePeriodSeconds! >= needS, `${pod.terminationGracePeriodSeconds} s < ${needS} s`);
  assert.equal(container.lifecycle?.preStop, undefined, 'no preStop: the gateway drains by itself');
});

test('the probes ask the admin port: liveness /healthz, readiness /readyz (failing at the first 503)', () => {
  const url = (probe: IContainer['livenessProbe']): URL => {
    const cmd = probe!.exec!.command!;
    assert.deepEqual(cmd.slice(0, 3), ['mtlsgate', 'health', '--url']);
    return new URL(cmd[3]!);
  };
  const live = url(container.livenessProbe);
  const ready = url(container.readinessProbe);
  for (const u of [live, ready]) {
    assert.equal(u.hostname, cfg.admin!.host, 'the address the admin listener is bound to');
    assert.equal(Number(u.port), cfg.admin!.port);
  }
  assert.deepEqual([live.pathname, ready.pathname], ['/healthz', '/readyz']);
  assert.equal(container.readinessProbe!.failureThreshold, 1);
});

test("every file the config reads is a key of a Secret or ConfigMap mounted as a directory at that file's folder", () => {
  const files = watchedPaths(cfg, configPath);
  assert.ok(files.length >= 4, JSON.stringify(files));
  const mounts = container.volumeMounts ?? [];
  for (const m of mounts) assert.equal(m.subPath, undefined, `${m.name}: a subPath mount is never updated`);
  for (const file of files) {
    const mount = mounts.find((m) => m.mountPath === dirname(file));
    assert.ok(mount, `${file}: no volume mounted at ${dirname(file)}`);
    const volume = pod.volumes!.find((v) => v.name === mount.name)!;
    const key = basename(file);
    if (volume.configMap) {
      assert.ok(key in (one<ConfigMap>('ConfigMap', volume.configMap.name).data ?? {}), `${file}: ConfigMap key`);
    } else {
      assert.ok(volume.secret, `${file}: ${volume.name} is neither a Secret nor a ConfigMap`);
      const s = one<Secret>('Secret', volume.secret.secretName);
      assert.ok(key in { ...s.data, ...s.stringData }, `${file}: Secret ${volume.secret.secretName} key`);
      assert.equal(volume.secret.defaultMode, 0o440, `${volume.name}: 0440 (readable by fsGroup, not world)`);
    }
  }
});

test('non-root, read-only root file system, no privilege escalation, no capabilities', () => {
  assert.equal(pod.securityContext?.runAsNonRoot, true);
  assert.ok((pod.securityContext?.runAsUser ?? 0) > 0);
  assert.equal(pod.securityContext?.fsGroup, pod.securityContext?.runAsGroup);
  assert.equal(container.securityContext?.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext?.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext?.capabilities?.drop, ['ALL']);
});

test('the Service and the PodDisruptionBudget select the pods; the Service targets the container port', () => {
  const labels = deployment.spec!.template.metadata!.labels!;
  assert.deepEqual(deployment.spec!.selector.matchLabels, labels);
  const service = one<Service>('Service');
  assert.deepEqual(service.spec!.selector, labels);
  assert.equal(service.spec!.ports![0]!.targetPort, container.ports![0]!.name);
  const pdb = one<PodDisruptionBudget>('PodDisruptionBudget');
  assert.deepEqual(pdb.spec!.selector!.matchLabels, labels);
  assert.ok(Number(pdb.spec!.minAvailable) < deployment.spec!.replicas!, 'a node drain can still evict one');
});

test('the Dockerfile: two stages from npm pack, numeric non-root USER, tini then node, HEALTHCHECK with health', () => {
  const text = readFileSync(join(REPO, 'deploy', 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const instr = (name: string): string[] =>
    lines.filter((l) => l.startsWith(`${name} `)).map((l) => l.slice(name.length + 1));
  assert.equal(instr('FROM').length, 2, 'a build stage and a runtime stage');
  assert.ok(instr('RUN').some((r) => /npm pack/.test(r)));
  assert.ok(instr('RUN').some((r) => /npm install --global --omit=dev .*mtlsgate-\*\.tgz/.test(r)));
  assert.match(instr('USER').at(-1)!, /^[1-9]\d*:[1-9]\d*$/);
  assert.equal(instr('USER').at(-1)!.split(':')[0], String(pod.securityContext!.runAsUser));
  const entrypoint = JSON.parse(instr('ENTRYPOINT')[0]!) as string[];
  assert.deepEqual(entrypoint.slice(0, 3), ['/usr/bin/tini', '--', 'node']);
  const health = /CMD (\[.*\])$/.exec(instr('HEALTHCHECK')[0]!)![1]!;
  const probe = JSON.parse(health) as string[];
  assert.deepEqual(probe.slice(0, 3), ['mtlsgate', 'health', '--url']);
  assert.equal(new URL(probe[3]!).port, String(cfg.admin!.port), 'the same admin port as the ConfigMap');
  const cmd = JSON.parse(instr('CMD')[0]!) as string[];
  assert.deepEqual(cmd, ['serve', '--config', configPath], 'the config where the Deployment mounts it');
});
