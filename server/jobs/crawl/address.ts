// Which network addresses a crawl may reach. A crawler that fetches user-given URLs from the server
// must not become a way into the server's own network (SSRF), so loopback, private, link-local and
// other non-public ranges are refused unless SLUICE_ALLOW_PRIVATE_NETWORKS=true.
import dns from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { InputError } from '../../lib/errors.ts';
import type { LookupAddress } from 'node:dns';

/**
 * How a crawl resolves names and judges addresses before it connects. Production uses the defaults;
 * tests inject a resolver (a "public" name that resolves to a test server) and a judge (which test
 * address counts as public), since a test cannot reach the internet.
 */
export interface AddressRules {
  /** Every address of a host name; default: the system resolver (dns.lookup, /etc/hosts included). */
  resolve?: (hostname: string) => Promise<LookupAddress[]>;
  /** True when a crawl must not connect to `ip`; default: the private-network rules of the crawler. */
  isDisallowed?: (ip: string) => boolean;
}

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'multicast'
  | 'unspecified'
  | 'reserved'
  | 'invalid';

type Range = [network: string, prefix: number];

const IPV4: Record<Exclude<AddressClass, 'public' | 'invalid'>, Range[]> = {
  unspecified: [['0.0.0.0', 8]],
  loopback: [['127.0.0.0', 8]],
  private: [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16]],
  'link-local': [['169.254.0.0', 16]],
  cgnat: [['100.64.0.0', 10]],
  multicast: [['224.0.0.0', 4]],
  // protocol assignments, documentation, benchmarking, future use and broadcast
  reserved: [
    ['192.0.0.0', 24],
    ['192.0.2.0', 24],
    ['192.88.99.0', 24],
    ['198.18.0.0', 15],
    ['198.51.100.0', 24],
    ['203.0.113.0', 24],
    ['240.0.0.0', 4],
  ],
};

const IPV6: Partial<Record<AddressClass, Range[]>> = {
  unspecified: [['::', 128]],
  loopback: [['::1', 128]],
  private: [['fc00::', 7]],
  'link-local': [['fe80::', 10], ['fec0::', 10]],
  multicast: [['ff00::', 8]],
  // discard-only, Teredo (it tunnels to an IPv4 host we cannot judge), ORCHID, documentation, local-use NAT64
  reserved: [['100::', 64], ['2001::', 32], ['2001:10::', 28], ['2001:20::', 28], ['2001:db8::', 32], ['64:ff9b:1::', 48]],
};

const BLOCKS = buildBlocks();

function buildBlocks(): [AddressClass, BlockList][] {
  const byClass = new Map<AddressClass, BlockList>();
  const add = (cls: AddressClass, ranges: Range[] | undefined, type: 'ipv4' | 'ipv6') => {
    const list = byClass.get(cls) ?? new BlockList();
    for (const [network, prefix] of ranges ?? []) list.addSubnet(network, prefix, type);
    byClass.set(cls, list);
  };
  for (const [cls, ranges] of Object.entries(IPV4)) add(cls as AddressClass, ranges, 'ipv4');
  for (const [cls, ranges] of Object.entries(IPV6)) add(cls as AddressClass, ranges, 'ipv6');
  return [...byClass];
}

/** Classifies an IPv4 or IPv6 address (brackets allowed); IPv4 embedded in IPv6 is judged as IPv4. */
export function classifyAddress(ip: string): AddressClass {
  const address = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const family = isIP(address);
  if (family === 0) return 'invalid';
  if (family === 6) {
    const embedded = embeddedIpv4(address);
    if (embedded) return classifyAddress(embedded);
  }
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [cls, list] of BLOCKS) if (list.check(address, type)) return cls;
  return 'public';
}

/** True when a crawl must not connect to this address (anything but a public unicast address). */
export function isDisallowedAddress(ip: string): boolean {
  return classifyAddress(ip) !== 'public';
}

// IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4
// (2002:AABB:CCDD::) addresses reach an IPv4 host, so they are judged by that host.
function embeddedIpv4(ipv6: string): string | null {
  const groups = expandIpv6(ipv6);
  if (!groups) return null;
  const zeros = (from: number, to: number) => groups.slice(from, to).every((g) => g === 0);
  const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  const [g0, g1, , , , g5, g6, g7] = groups as [number, number, number, number, number, number, number, number];
  if (zeros(0, 5) && g5 === 0xffff) return v4(g6, g7);
  if (zeros(0, 6) && (g6 !== 0 || g7 > 1)) return v4(g6, g7);
  if (g0 === 0x64 && g1 === 0xff9b && zeros(2, 6)) return v4(g6, g7);
  if (g0 === 0x2002) return v4(g1, groups[2] ?? 0);
  return null;
}

/** The eight 16-bit groups of an IPv6 address (dotted IPv4 tail allowed), or null. */
function expandIpv6(ip: string): number[] | null {
  let text = ip.split('%')[0] ?? '';
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted?.[1]) {
    const parts = dotted[1].split('.').map(Number);
    const [a = 0, b = 0, c = 0, d = 0] = parts;
    text = `${text.slice(0, -dotted[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return null;
  const groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  return groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/** Raised when a crawl would reach a non-public address; a safety refusal, never retried. */
export class PrivateAddressError extends Error {
  override readonly name = 'PrivateAddressError';
  readonly code = 'ESLUICEPRIVATE';
}

/** The message given for a refused address (names the setting that lifts the rule). */
export function privateAddressMessage(host: string, ip: string): string {
  const where = host === ip ? ip : `${host} (${ip})`;
  return (
    `refused to crawl ${where}: it is a ${classifyAddress(ip)} address, and crawls may only reach ` +
    'public addresses. Set SLUICE_ALLOW_PRIVATE_NETWORKS=true to allow loopback, private and link-local addresses.'
  );
}

/** Finds a PrivateAddressError in an error or its causes (undici wraps connect errors). */
export function findPrivateAddressError(error: unknown): PrivateAddressError | null {
  for (let e = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof PrivateAddressError || (e as { code?: unknown }).code === 'ESLUICEPRIVATE') {
      return e as PrivateAddressError;
    }
  }
  return null;
}

/**
 * True for "localhost" and names under .localhost (RFC 6761), with or without a trailing dot: many
 * resolvers answer them with loopback addresses without asking DNS, so they are refused by name.
 */
export function isLocalhostName(hostname: string): boolean {
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return name === 'localhost' || name.endsWith('.localhost');
}

/** The IP literal a URL hostname stands for (WHATWG parsing already turned 2130706433 into 127.0.0.1), or null. */
export function literalIp(hostname: string): string | null {
  const bare = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  return isIP(bare) ? bare : null;
}

const systemResolve = (hostname: string): Promise<dns.LookupAddress[]> => dns.promises.lookup(hostname, { all: true });

/**
 * A dns lookup for net.connect that drops disallowed addresses, so the check applies to the address
 * actually connected to (a name cannot pass a check and then resolve elsewhere: DNS rebinding).
 */
export function createGuardedLookup(rules: AddressRules = {}): LookupFunction {
  const resolve = rules.resolve ?? systemResolve;
  const isDisallowed = rules.isDisallowed ?? isDisallowedAddress;
  return (hostname, options, callback) => {
    if (isLocalhostName(hostname)) return callback(new PrivateAddressError(privateAddressMessage(hostname, '127.0.0.1')), '');
    resolve(hostname).then(
      (all) => {
        const family = options.family === 4 || options.family === 6 ? options.family : null;
        const addresses = family ? all.filter((a) => a.family === family) : all;
        const allowed = addresses.filter((a) => !isDisallowed(a.address));
        const first = allowed[0];
        if (!first) {
          const refused = addresses[0]?.address ?? hostname;
          return callback(new PrivateAddressError(privateAddressMessage(hostname, refused)), '');
        }
        if (options.all) callback(null, allowed);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, ''),
    );
  };
}

/** Why a crawl may not reach this URL's host, or null when it may (or when the name does not resolve). */
export async function refusalReason(url: string, allowPrivate: boolean, rules: AddressRules = {}): Promise<string | null> {
  if (allowPrivate) return null;
  const isDisallowed = rules.isDisallowed ?? isDisallowedAddress;
  const { hostname } = new URL(url);
  const ip = literalIp(hostname);
  if (ip) return isDisallowed(ip) ? privateAddressMessage(ip, ip) : null;
  if (isLocalhostName(hostname)) return privateAddressMessage(hostname, '127.0.0.1');
  let addresses: dns.LookupAddress[];
  try {
    addresses = await (rules.resolve ?? systemResolve)(hostname);
  } catch {
    return null; // an unknown name fails later as an ordinary fetch error, with its own message
  }
  const first = addresses[0];
  // Only a fail-fast for the API: the connect-time lookup checks the address actually used.
  if (!first || addresses.some((a) => !isDisallowed(a.address))) return null;
  return privateAddressMessage(hostname, first.address);
}

/** For the API before queueing a crawl: throws BAD_USER_INPUT (field url) for a non-public target. */
export async function assertCrawlableUrl(url: string, allowPrivate: boolean): Promise<void> {
  const reason = await refusalReason(url, allowPrivate);
  if (reason) throw new InputError(reason, 'url');
}
