// The fleet test's real parts: a three-node NATS cluster (JetStream, MQTT 3.1.1) and a
// PostgreSQL server, both from Debian, started on free ports of this machine and stopped
// by the test; and a network namespace with a veth pair, so one agent's uplink can be cut
// (its packets dropped, its TCP connection left hanging) as a WAN cut does.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.js';

export const NATS = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find((p) => existsSync(p));
export const PG_BIN = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'].find((p) => existsSync(join(p, 'postgres')));

export interface NatsNode {
  name: string;
  mqttPort: number;
  process: ChildProcess | undefined;
  kill(): Promise<void>;
  start(): Promise<void>;
}

/** Three NATS servers clustered with JetStream, MQTT on `host` (an address of this machine). */
export async function natsCluster(host: string): Promise<{ nodes: NatsNode[]; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-nats-'));
  const ports = await Promise.all([0, 1, 2].map(async () => ({ client: await freePort(), route: await freePort(), mqtt: await freePort() })));
  const routes = ports.map((p) => `nats-route://127.0.0.1:${p.route}`).join(', ');
  const nodes = ports.map((p, i): NatsNode => {
    const name = `n${i + 1}`;
    mkdirSync(join(dir, name));
    const conf = join(dir, `${name}.conf`);
    writeFileSync(
      conf,
      [
        `server_name: ${name}`,
        `listen: 127.0.0.1:${p.client}`,
        `jetstream { store_dir: "${join(dir, name)}" }`,
        `cluster { name: edgecam; listen: 127.0.0.1:${p.route}; routes: [${routes}] }`,
        `mqtt { listen: "${host}:${p.mqtt}" }`,
        '',
      ].join('\n'),
    );
    const node: NatsNode = {
      name,
      mqttPort: p.mqtt,
      process: undefined,
      start: async () => {
        node.process = spawn(NATS!, ['-c', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
        await untilPort(host, p.mqtt, 20_000);
      },
      kill: async () => {
        const proc = node.process;
        if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGKILL');
        await exited;
      },
    };
    return node;
  });
  await Promise.all(nodes.map((n) => n.start()));
  return { nodes, stop: async () => void (await Promise.all(nodes.map((n) => n.kill()))) };
}

async function untilPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, host, () => (s.end(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${host}:${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A PostgreSQL server of its own (Debian's binaries, run as the postgres user), on a Unix socket only. */
export async function postgres(): Promise<{ socketDir: string; port: number; stop(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgecam-pg-'));
  chmodSync(dir, 0o755);
  const data = join(dir, 'data');
  mkdirSync(data);
  const uid = Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout);
  const gid = Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout);
  chownSync(dir, uid, gid);
  chownSync(data, uid, gid);
  const as = (cmd: string, args: string[]) => spawnSync('runuser', ['-u', 'postgres', '--', join(PG_BIN!, cmd), ...args], { encoding: 'utf8' });
  const init = as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  if (init.status !== 0) throw new Error(`initdb: ${init.stderr}`);
  const port = await freePort();
  const start = as('pg_ctl', ['-D', data, '-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses='' -c fsync=off`, 'start']);
  if (start.status !== 0) throw new Error(`pg_ctl start: ${start.stderr}${start.stdout}`);
  return { socketDir: dir, port, stop: () => void as('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']) };
}

/** A network namespace joined to this one by a veth pair: `host` here, `guest` inside; `cut` drops the link, as a WAN cut does. */
export function uplink(name: string, subnet: number): { ns: string; host: string; guest: string; cut(): void; restore(): void; remove(): void } {
  const ns = `edgecam-${name}`;
  const [outer, inner] = [`ec${subnet}h`, `ec${subnet}g`];
  const host = `10.213.${subnet}.1`;
  const guest = `10.213.${subnet}.2`;
  const ip = (...args: string[]) => {
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
  };
  spawnSync('ip', ['netns', 'del', ns]);
  ip('netns', 'add', ns);
  ip('link', 'add', outer, 'type', 'veth', 'peer', 'name', inner);
  ip('link', 'set', inner, 'netns', ns);
  ip('addr', 'add', `${host}/30`, 'dev', outer);
  ip('link', 'set', outer, 'up');
  ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${guest}/30`, 'dev', inner);
  ip('netns', 'exec', ns, 'ip', 'link', 'set', inner, 'up');
  ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  return {
    ns,
    host,
    guest,
    // Our end of the link goes down: what the guest sends is dropped, no reset comes back, its
    // connection hangs and new ones time out, as across a cut WAN; this side still reaches `host`.
    cut: () => ip('link', 'set', outer, 'down'),
    restore: () => ip('link', 'set', outer, 'up'),
    remove: () => void spawnSync('ip', ['netns', 'del', ns]),
  };
}

export const canMakeNamespaces = () => {
  const probe = spawnSync('ip', ['netns', 'add', 'edgecam-probe']);
  spawnSync('ip', ['netns', 'del', 'edgecam-probe']);
  return probe.status === 0;
};
