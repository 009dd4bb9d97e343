import { describe, expect, it } from 'vitest';
import { InputError } from '../../server/lib/errors.ts';
import {
  assertCrawlableUrl,
  classifyAddress,
  createGuardedLookup,
  isDisallowedAddress,
  literalIp,
  PrivateAddressError,
  refusalReason,
} from '../../server/jobs/crawl/address.ts';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.254', 'cgnat'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:c0a8:0101::1', 'private'],
    ['8.8.8.8', 'public'],
    ['172.32.0.1', 'public'],
    ['100.128.0.1', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['::ffff:8.8.8.8', 'public'],
    ['example.com', 'invalid'],
  ])('%s is %s', (ip, expected) => {
    expect(classifyAddress(ip)).toBe(expected);
    expect(isDisallowedAddress(ip)).toBe(expected !== 'public');
  });

  it('sees through decimal, hex and short IPv4 spellings via WHATWG URL parsing', () => {
    for (const host of ['2130706433', '0x7f000001', '0177.0.0.1', '127.1', '[::ffff:127.0.0.1]']) {
      const ip = literalIp(new URL(`http://${host}/`).hostname);
      expect(ip, host).not.toBeNull();
      expect(isDisallowedAddress(ip ?? ''), host).toBe(true);
    }
    expect(literalIp('example.com')).toBeNull();
  });
});

describe('refusing private targets', () => {
  it('refuses literal private IPs with a message naming the setting', async () => {
    const reason = await refusalReason('http://2130706433:8080/x', false);
    expect(reason).toMatch(/127\.0\.0\.1.*loopback.*SLUICE_ALLOW_PRIVATE_NETWORKS=true/);
    expect(await refusalReason('http://[fe80::1]/', false)).toMatch(/link-local/);
    expect(await refusalReason('http://127.0.0.1/', true)).toBeNull();
    expect(await refusalReason('http://8.8.8.8/', false)).toBeNull();
  });

  it('refuses a name that resolves only to loopback', async () => {
    expect(await refusalReason('http://localhost:3000/', false)).toMatch(/localhost .*loopback/);
  });

  it('assertCrawlableUrl throws BAD_USER_INPUT on field url', async () => {
    const error = await assertCrawlableUrl('http://10.0.0.5/', false).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InputError);
    expect(error).toMatchObject({ code: 'BAD_USER_INPUT', field: 'url' });
    await expect(assertCrawlableUrl('http://10.0.0.5/', true)).resolves.toBeUndefined();
  });

  it('the connect-time lookup drops disallowed addresses', async () => {
    const lookup = createGuardedLookup();
    const error = await new Promise<Error | null>((done) => lookup('localhost', { all: true }, (e) => done(e)));
    expect(error).toBeInstanceOf(PrivateAddressError);
    expect(error?.message).toMatch(/SLUICE_ALLOW_PRIVATE_NETWORKS=true/);
  });
});
