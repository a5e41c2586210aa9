/**
 * The deploy files parse and say what the runbook relies on. No YAML parser is installed in the
 * workspace, so the manifests get a hand check of the YAML subset they use (two-space indentation,
 * no tabs, one document each, the fields Kubernetes needs); where python3 has PyYAML, a full parse too.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVICE_ROOT } from './config.ts';

const K8S = path.join(SERVICE_ROOT, 'deploy', 'k8s');
const manifests = fs.readdirSync(K8S).filter((name) => name.endsWith('.yaml')).sort();
const read = (name: string) => fs.readFileSync(path.join(K8S, name), 'utf8');
const hasPyYaml = spawnSync('python3', ['-c', 'import yaml'], { encoding: 'utf8' }).status === 0;

/** The value of a top-level `key: value` line. */
function top(text: string, key: string): string | undefined {
  return new RegExp(`^${key}: *(.+)$`, 'm').exec(text)?.[1]?.trim();
}

describe('deploy/k8s manifests', () => {
  it('are the expected set', () => {
    expect(manifests).toEqual(['deployment.yaml', 'hpa.yaml', 'migrate-job.yaml', 'secret.example.yaml', 'service.yaml']);
  });

  it.each(manifests)('%s is well-formed YAML of the subset we use, with apiVersion, kind and metadata.name', (name) => {
    const text = read(name);
    expect(text).not.toMatch(/\t/);
    expect(text).not.toMatch(/^---/m);
    let inBlock = -1; // indentation of a `key: |` block scalar, whose lines are free text
    for (const [index, line] of text.split('\n').entries()) {
      const indent = line.length - line.trimStart().length;
      if (inBlock >= 0 && (line.trim() === '' || indent > inBlock)) continue;
      inBlock = -1;
      if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
      const where = `${name}:${index + 1}: ${line}`;
      expect(indent % 2, where).toBe(0);
      // Every line is `key:`, `key: value`, `- item` or `- key: value`; flow lists only as ["a", "b"].
      expect(line.trim(), where).toMatch(/^(- )?([A-Za-z0-9_.\-/]+: ?.*|"[^"]*"|[^:#]+)$/);
      const value = /: (.+)$/.exec(line)?.[1]?.trim();
      if (value?.startsWith('[')) expect(() => JSON.parse(value), where).not.toThrow();
      if (value?.startsWith('"')) expect(value, where).toMatch(/^"[^"]*"$/);
      if (value === '|') inBlock = indent;
    }
    expect(top(text, 'apiVersion')).toMatch(/^(v1|apps\/v1|batch\/v1|autoscaling\/v2)$/);
    expect(top(text, 'kind')).toMatch(/^[A-Z][A-Za-z]+$/);
    expect(text).toMatch(/^metadata:\n {2}name: keepsake-sync/m);
  });

  it.skipIf(!hasPyYaml)('parse with a real YAML parser (PyYAML) and agree with each other', () => {
    const script = [
      'import json, sys, yaml',
      'print(json.dumps({f: yaml.safe_load(open(f)) for f in sys.argv[1:]}))',
    ].join('\n');
    const result = spawnSync('python3', ['-c', script, ...manifests], { cwd: K8S, encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed manifests
    const docs = JSON.parse(result.stdout) as Record<string, Doc>;
    const deployment = docs['deployment.yaml'] as Doc;
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(deployment.spec.replicas).toBe(3);
    expect(deployment.spec.selector.matchLabels).toEqual(deployment.spec.template.metadata.labels);
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    expect(container.envFrom[0].secretRef.name).toBe(docs['secret.example.yaml']?.metadata.name);
    expect(Object.keys(docs['secret.example.yaml']?.stringData)).toEqual(
      expect.arrayContaining(['DATABASE_URL', 'JWT_PRIVATE_KEY', 'REDIS_URL', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']),
    );
    expect(docs['service.yaml']?.spec.selector).toEqual(deployment.spec.template.metadata.labels);
    const hpa = docs['hpa.yaml'] as Doc;
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(hpa.spec.metrics[0].resource).toEqual({ name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } });
    const job = docs['migrate-job.yaml'] as Doc;
    expect(job.spec.template.spec.containers[0].args).toEqual(['migrate']);
    expect(job.spec.template.spec.containers[0].image).toBe(container.image);
  });
});

describe('deploy/Dockerfile', () => {
  const text = fs.readFileSync(path.join(SERVICE_ROOT, 'deploy', 'Dockerfile'), 'utf8');
  it('is multi-stage on node:20-slim, installs production dependencies of the workspace, runs as non-root', () => {
    expect(text.match(/^FROM node:20-slim AS \w+$/gm)).toHaveLength(2);
    expect(text).toMatch(/^COPY package\.json package-lock\.json \.\/$/m);
    expect(text).toMatch(/npm ci --omit=dev --include-workspace-root -w sync-service/);
    expect(text).toMatch(/^USER node$/m);
    expect(text).toMatch(/^HEALTHCHECK .*\n.*\/healthz/m);
    expect(text).toMatch(/^ENTRYPOINT \["node", "--import", "tsx", "src\/main\.ts"\]$/m);
  });
});
