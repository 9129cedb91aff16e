// Which addresses a webhook may be sent to. A callback URL names a host that someone else
// controls, so IMG would otherwise be a way to reach what only IMG's own network can reach: its
// loopback, its link-local metadata service, its private networks. Those ranges are refused
// unless the operator allows a part of them; the check is made on every address the name
// resolves to, at submission and again at each send, and the send goes to the address checked.
import { BlockList, isIP } from 'node:net';
import { lookup, Resolver } from 'node:dns/promises';

/** Ranges a webhook never goes to unless the operator allows them (IMG_WEBHOOK_ALLOW_RANGES). */
const REFUSED: Array<[string, number, 'ipv4' | 'ipv6', string]> = [
  ['0.0.0.0', 8, 'ipv4', 'this network'],
  ['10.0.0.0', 8, 'ipv4', 'private'],
  ['100.64.0.0', 10, 'ipv4', 'shared (carrier-grade NAT)'],
  ['127.0.0.0', 8, 'ipv4', 'loopback'],
  ['169.254.0.0', 16, 'ipv4', 'link-local'],
  ['172.16.0.0', 12, 'ipv4', 'private'],
  ['192.0.0.0', 24, 'ipv4', 'IETF protocol assignments'],
  ['192.168.0.0', 16, 'ipv4', 'private'],
  ['198.18.0.0', 15, 'ipv4', 'benchmarking'],
  ['224.0.0.0', 4, 'ipv4', 'multicast'],
  ['240.0.0.0', 4, 'ipv4', 'reserved'],
  ['::', 128, 'ipv6', 'unspecified'],
  ['::1', 128, 'ipv6', 'loopback'],
  ['fc00::', 7, 'ipv6', 'unique local (private)'],
  ['fe80::', 10, 'ipv6', 'link-local'],
  ['ff00::', 8, 'ipv6', 'multicast'],
];

const REFUSED_LISTS = REFUSED.map(([net, bits, family, what]) => {
  const list = new BlockList();
  list.addSubnet(net, bits, family);
  return { list, family, what };
});

export interface AddressPolicyOptions {
  /** CIDRs inside the refused ranges that the operator allows, e.g. a receiver on the operator's own network. */
  allowRanges: string[];
  /** DNS servers to resolve callback hosts with ("host" or "host:port"); none: the system's resolver. */
  dnsServers?: string[];
}

export class WebhookAddressRefused extends Error {}

export class AddressPolicy {
  private readonly allowed = new BlockList();
  private readonly resolver?: Resolver;

  constructor(opts: AddressPolicyOptions) {
    for (const cidr of opts.allowRanges) {
      const [net, bits] = cidr.split('/');
      const family = isIP(net ?? '');
      if (!family || bits === undefined || !/^\d+$/.test(bits)) throw new Error(`not a CIDR range: ${cidr}`);
      this.allowed.addSubnet(net!, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
    }
    if (opts.dnsServers?.length) {
      this.resolver = new Resolver({ timeout: 3000, tries: 2 });
      this.resolver.setServers(opts.dnsServers);
    }
  }

  /** Why this address is refused ("a loopback address"), or undefined when a webhook may go there. */
  refusal(address: string): string | undefined {
    let addr = address;
    let family: 'ipv4' | 'ipv6' = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    // An IPv4 address written as IPv6 (::ffff:127.0.0.1) is that IPv4 address.
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr);
    if (mapped) {
      addr = mapped[1]!;
      family = 'ipv4';
    }
    if (this.allowed.check(addr, family)) return undefined;
    for (const r of REFUSED_LISTS) {
      if (r.family === family && r.list.check(addr, family)) return `a ${r.what} address`;
    }
    return undefined;
  }

  /** Every address `host` resolves to; throws WebhookAddressRefused if any is refused, or none is found. */
  async resolve(host: string): Promise<Array<{ address: string; family: 4 | 6 }>> {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    let found: Array<{ address: string; family: 4 | 6 }>;
    if (isIP(bare)) {
      found = [{ address: bare, family: isIP(bare) as 4 | 6 }];
    } else if (this.resolver) {
      const [v4, v6] = await Promise.all([this.resolver.resolve4(bare).catch(() => []), this.resolver.resolve6(bare).catch(() => [])]);
      found = [...v4.map((address) => ({ address, family: 4 as const })), ...v6.map((address) => ({ address, family: 6 as const }))];
    } else {
      found = (await lookup(bare, { all: true }).catch(() => [])).map((a) => ({ address: a.address, family: a.family as 4 | 6 }));
    }
    if (found.length === 0) throw new WebhookAddressRefused(`${bare} does not resolve`);
    // One refused address is enough to refuse: a name that resolves to both could be sent to either.
    for (const a of found) {
      const why = this.refusal(a.address);
      if (why) throw new WebhookAddressRefused(isIP(bare) ? `${bare} is ${why}` : `${bare} resolves to ${a.address}, ${why}`);
    }
    return found;
  }
}
