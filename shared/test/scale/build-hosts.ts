// Build hosts made on this machine for the scale tests and the benchmark: each a network namespace
// (`ip netns`) joined to the machine by a veth pair, with a network of its own: its loopback and its
// end of the veth, nothing else. On the machine's end of each veth a relay stands for the network
// between hosts: it carries the host's connections to the machine's RabbitMQ, database and object
// store, which listen on loopback only (they are shared with other work here, so they are not
// rebound). An image-creator in a namespace reaches them at the veth's address and nowhere else.
//
// The Docker engine is the machine's: a build host's image-creator talks to it through its Unix
// socket, which a network namespace does not separate. So the hosts share one engine here, where
// real hosts each have their own; nothing else of the machine is shared.
import { execFileSync } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface BuildHost {
  name: string;
  /** The namespace's address, and the machine's address on the same veth. */
  address: string;
  gateway: string;
  /** Run a command inside the namespace: `[...host.exec, cmd, ...args]`. */
  exec: string[];
  /** The host's own data directory. */
  dataDir: string;
  /** Connections the relays took from this host, by service. */
  connections: Record<string, number>;
}

export interface RelayTarget {
  /** The port the host connects to on its gateway. */
  port: number;
  /** Where the machine's service listens. */
  target: { host: string; port: number };
  name: string;
}

const HOW = 'the build-host tests make network namespaces and veth pairs: run them as root, with iproute2 installed (deploy/local/up.sh installs it)';

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export class BuildHosts {
  readonly hosts: BuildHost[] = [];
  private readonly servers: Server[] = [];
  private readonly sockets = new Set<Socket>();
  private readonly tag: string;
  private readonly net: number;

  constructor(private readonly relays: RelayTarget[]) {
    // Names and addresses of this process's own: runs side by side do not meet.
    this.tag = (process.pid % 10000).toString(36);
    this.net = 100 + (process.pid % 100);
  }

  /** Makes `n` hosts and their relays. Fails, saying what it needs, when it cannot. */
  async create(n: number): Promise<BuildHost[]> {
    if (process.getuid?.() !== 0) throw new Error(HOW);
    // Interrupted (a signal ends the process through process.exit), the namespaces go all the same.
    process.once('exit', () => {
      for (const h of this.hosts) {
        try {
          ip(['netns', 'del', h.name]);
        } catch {
          /* gone */
        }
      }
    });
    try {
      execFileSync('ip', ['-V'], { stdio: 'ignore' });
    } catch {
      throw new Error(HOW);
    }
    for (let i = 0; i < n; i++) {
      const name = `img-${this.tag}-h${i}`;
      const outside = `ih${this.tag}${i}o`;
      const inside = `ih${this.tag}${i}i`;
      const gateway = `10.213.${this.net}.${4 * i + 1}`;
      const address = `10.213.${this.net}.${4 * i + 2}`;
      try {
        ip(['netns', 'add', name]);
        ip(['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
        ip(['link', 'set', inside, 'netns', name]);
        ip(['addr', 'add', `${gateway}/30`, 'dev', outside]);
        ip(['link', 'set', outside, 'up']);
        ip(['netns', 'exec', name, 'ip', 'addr', 'add', `${address}/30`, 'dev', inside]);
        ip(['netns', 'exec', name, 'ip', 'link', 'set', inside, 'up']);
        ip(['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
      } catch (err) {
        await this.destroy();
        throw new Error(`could not make build host ${name}: ${(err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message}; ${HOW}`);
      }
      const host: BuildHost = { name, address, gateway, exec: ['ip', 'netns', 'exec', name], dataDir: await mkdtemp(join(tmpdir(), `img-host${i}-`)), connections: {} };
      this.hosts.push(host);
      for (const r of this.relays) this.servers.push(await this.relay(host, r));
    }
    return this.hosts;
  }

  /** Carries a host's connections from its gateway to a service of the machine, byte for byte. */
  private relay(host: BuildHost, r: RelayTarget): Promise<Server> {
    const server = createServer((client) => {
      host.connections[r.name] = (host.connections[r.name] ?? 0) + 1;
      const upstream = connect(r.target.port, r.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      // One side gone (a killed image-creator's sockets are closed by its kernel): the other goes too,
      // so the machine's RabbitMQ sees the connection end and hands its unacked messages back.
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(r.port, host.gateway, () => resolve(server));
    });
  }

  /** Whether a host can open a TCP connection to an address (from inside its namespace). */
  reaches(host: BuildHost, addr: string, port: number): boolean {
    try {
      execFileSync('ip', ['netns', 'exec', host.name, 'bash', '-c', `exec 3<>/dev/tcp/${addr}/${port}`], { stdio: 'ignore', timeout: 5000 });
      return true;
    } catch {
      return false;
    }
  }

  async destroy(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.splice(0).map((s) => new Promise((r) => s.close(r))));
    for (const h of this.hosts.splice(0)) {
      try {
        ip(['netns', 'del', h.name]);
      } catch {
        /* already gone */
      }
      await rm(h.dataDir, { recursive: true, force: true });
    }
    // Deleting a namespace deletes its end of each veth, and so the pair; a half-made one is removed here.
    for (let i = 0; i < 8; i++) {
      try {
        ip(['link', 'del', `ih${this.tag}${i}o`]);
      } catch {
        /* none */
      }
    }
  }
}
