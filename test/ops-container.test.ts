// Static checks of the container files (no Docker engine here): the Dockerfile read by a small
// parser, docker-compose.yml by the yaml package; every hardening option is asserted.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');

interface Instruction {
  keyword: string;
  args: string;
  /** The exec (JSON array) form, when the arguments are one. */
  exec?: string[];
}

// Dockerfile syntax as the reference documents it: `#` comment lines, `\` line continuations,
// KEYWORD then arguments, exec form as a JSON array.
function readDockerfile(text: string): Instruction[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const instructions: Instruction[] = [];
  for (const line of joined.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const match = /^([A-Za-z]+)\s+(.*)$/.exec(trimmed);
    if (match?.[1] === undefined || match[2] === undefined) {
      throw new Error(`unreadable line: ${trimmed}`);
    }
    const keyword = match[1].toUpperCase();
    const args = match[2].replace(/\s+/g, ' ').trim();
    const instruction: Instruction = { keyword, args };
    const jsonStart = args.indexOf('[');
    if (jsonStart >= 0 && args.endsWith(']')) {
      try {
        instruction.exec = JSON.parse(args.slice(jsonStart)) as string[];
      } catch {
        // A shell-form command containing brackets.
      }
    }
    instructions.push(instruction);
  }
  return instructions;
}

// Splits the instructions into build stages, resolving ARG defaults in FROM lines.
function stages(instructions: Instruction[]): { image: string; body: Instruction[] }[] {
  const args = new Map<string, string>();
  const result: { image: string; body: Instruction[] }[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'ARG' && result.length === 0) {
      const [name, value] = instruction.args.split('=');
      if (name !== undefined && value !== undefined) args.set(name, value);
    } else if (instruction.keyword === 'FROM') {
      const named = instruction.args.split(' ')[0] ?? '';
      const image = named.replace(/\$\{(\w+)\}/g, (_m, name: string) => args.get(name) ?? '');
      result.push({ image, body: [] });
    } else {
      result.at(-1)?.body.push(instruction);
    }
  }
  return result;
}

const isPinned = (image: string): boolean =>
  /@sha256:[0-9a-f]{64}$/.test(image) || /:(v?\d+\.\d+\.\d+)([-.][\w.-]+)?$/.test(image);

describe('Dockerfile', () => {
  const instructions = readDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
  const all = stages(instructions);
  const runtime = all.at(-1);
  const body = runtime?.body ?? [];
  const last = (keyword: string) => body.filter((i) => i.keyword === keyword).at(-1);

  it('is multi-stage on a base pinned to an exact release or digest', () => {
    expect(all.length).toBeGreaterThanOrEqual(2);
    for (const stage of all) expect(isPinned(stage.image), stage.image).toBe(true);
  });

  it('runs as uid 1000, set after every RUN of the final stage', () => {
    const userIndex = body.findIndex((i) => i.keyword === 'USER');
    expect(last('USER')?.args).toMatch(/^1000(:1000)?$/);
    const lastRun = body.map((i) => i.keyword).lastIndexOf('RUN');
    expect(userIndex).toBeGreaterThan(lastRun);
  });

  it('declares /data as the volume and makes it the service user\'s, mode 700', () => {
    expect(last('VOLUME')?.exec ?? [last('VOLUME')?.args]).toContain('/data');
    const runs = body.filter((i) => i.keyword === 'RUN').map((i) => i.args).join(' ');
    expect(runs).toContain('chown 1000:1000 /data');
    expect(runs).toContain('chmod 700 /data');
    expect(body.find((i) => i.keyword === 'ENV')?.args).toContain('DB_DIRECTORY=/data');
  });

  it('checks health with `electrum-edge rpc getinfo`', () => {
    const health = last('HEALTHCHECK');
    expect(health?.exec?.slice(0, 3)).toEqual(['electrum-edge', 'rpc', 'getinfo']);
    expect(health?.args).toMatch(/--timeout=\d+s/);
  });

  it('starts in exec form (signals reach node) and bakes no secret into the image', () => {
    expect(last('CMD')?.exec).toEqual(['node', '--import', 'tsx', 'indexer/main.ts']);
    for (const env of body.filter((i) => i.keyword === 'ENV')) {
      expect(env.args).not.toMatch(/PASSWORD|TOKEN|SECRET|DAEMON_URL/);
    }
    expect(instructions.some((i) => i.keyword === 'ADD')).toBe(false);
    const copies = instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args);
    expect(copies.join(' ')).not.toMatch(/\.env|\.pem|\.key/);
  });

  it('binds the admin RPC to loopback by default', () => {
    expect(body.find((i) => i.keyword === 'ENV')?.args).toContain('RPC_HOST=127.0.0.1');
  });
});

describe('.dockerignore', () => {
  const lines = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim());

  it('ignores everything but the sources it lists, and never env files, keys or databases', () => {
    expect(lines[lines.findIndex((l) => !l.startsWith('#') && l !== '')]).toBe('**');
    const secrets = ['**/.env', '**/*.env', '**/*.pem', '**/*.key', '**/*.db', '**/*.test.ts'];
    for (const pattern of secrets) expect(lines).toContain(pattern);
    const allowed = ['!bin/', '!cli/', '!core/', '!indexer/', '!migrations/', '!package.json'];
    expect(lines.filter((l) => l.startsWith('!')).sort()).toEqual(
      [...allowed, '!package-lock.json'].sort()
    );
  });
});

interface Service {
  image?: string;
  build?: unknown;
  user?: string;
  read_only?: boolean;
  security_opt?: string[];
  cap_drop?: string[];
  cap_add?: string[];
  tmpfs?: string[];
  ports?: string[];
  privileged?: boolean;
  network_mode?: string;
  volumes?: string[];
  env_file?: string[];
  environment?: Record<string, string>;
  profiles?: string[];
}

describe('docker-compose.yml', () => {
  const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, Service>;
    networks: Record<string, { internal?: boolean }>;
  };
  const services = Object.entries(compose.services);
  const indexer = compose.services['indexer'];

  it('has the node, indexer and sqld services', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['indexer', 'node', 'sqld']);
  });

  it.each(['node', 'indexer', 'sqld'])('hardens %s', (name) => {
    const service = compose.services[name];
    expect(service?.user).toBe('1000:1000');
    expect(service?.read_only).toBe(true);
    expect(service?.security_opt).toContain('no-new-privileges:true');
    expect(service?.cap_drop).toEqual(['ALL']);
    expect(service?.cap_add).toBeUndefined();
    expect(service?.privileged).toBeUndefined();
    expect(service?.network_mode).toBeUndefined();
    const tmp = (service?.tmpfs ?? []).find((t) => t.startsWith('/tmp:'));
    const flags = tmp?.split(':')[1]?.split(',');
    expect(flags).toEqual(expect.arrayContaining(['noexec', 'nosuid', 'nodev']));
    expect((service?.volumes ?? []).join(' ')).not.toContain('docker.sock');
  });

  it('publishes only the node P2P port to the world; everything else on 127.0.0.1', () => {
    for (const [name, service] of services) {
      for (const port of service.ports ?? []) {
        if (name === 'node' && port === '7333:7333') continue;
        expect(port, `${name} ${port}`).toMatch(/^127\.0\.0\.1:\d+:\d+$/);
      }
    }
  });

  it('keeps the admin RPC on the container loopback and unpublished', () => {
    expect(indexer?.environment?.['RPC_HOST']).toBe('127.0.0.1');
    const adminPort = indexer?.environment?.['RPC_PORT'] ?? '8000';
    for (const [, service] of services) {
      for (const port of service.ports ?? []) expect(port.split(':').at(-1)).not.toBe(adminPort);
    }
    const metricsPort = indexer?.environment?.['PROMETHEUS_PORT'];
    expect(indexer?.ports).toContain(`127.0.0.1:${metricsPort}:${metricsPort}`);
  });

  it('takes secrets from an env file, never inline', () => {
    expect(indexer?.env_file).toEqual(['./indexer.env']);
    for (const [, service] of services) {
      for (const key of Object.keys(service.environment ?? {})) {
        expect(key).not.toMatch(/PASSWORD|TOKEN|SECRET|DAEMON_URL|RPC_USER/);
      }
    }
    const text = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
    expect(text).toMatch(/indexer\.env.*mode 600|install -m 600 \/dev\/null indexer\.env/);
  });

  it('pins every image and keeps node RPC on an internal network', () => {
    for (const [name, service] of services) {
      if (service.image === undefined || service.build !== undefined) continue;
      if (name === 'node') expect(service.image).toMatch(/^\$\{RADIANT_NODE_IMAGE:\?/);
      else expect(isPinned(service.image), service.image).toBe(true);
    }
    expect(compose.networks['chain']?.internal).toBe(true);
  });

  it('starts sqld only on request (planned)', () => {
    expect(compose.services['sqld']?.profiles).toEqual(['sqld']);
  });
});
