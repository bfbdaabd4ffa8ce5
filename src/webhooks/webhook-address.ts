import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";

/**
 * Where a webhook may not point unless `WEBHOOK_ALLOW_PRIVATE=true`: this machine, private networks, link-local
 * (cloud metadata at 169.254.169.254 and fd00:ec2::254 included) and every other address that is not a public
 * unicast one. Checked at creation and again on every connection (the resolved address, against DNS rebinding).
 */
const REFUSED = new BlockList();
for (const [network, prefix] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT (Alibaba's metadata is 100.100.100.200)
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const)
  REFUSED.addSubnet(network, prefix, "ipv4");
// IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) are checked against the IPv4 rules by BlockList itself; a
// ::ffff:0:0/96 rule would instead refuse every IPv4 address.
for (const [network, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["64:ff9b::", 96], // NAT64: likewise
  ["fc00::", 7], // unique local (AWS's IPv6 metadata is fd00:ec2::254)
  ["fe80::", 10],
  ["ff00::", 8],
] as const)
  REFUSED.addSubnet(network, prefix, "ipv6");

/** Why the gateway will not send to `address`, or undefined when it may. */
export function refusedAddress(address: string): string | undefined {
  const family = isIP(address);
  if (family === 0) return `${address} is not an IP address`;
  return REFUSED.check(address, family === 4 ? "ipv4" : "ipv6")
    ? `${address} is a loopback, private, link-local or otherwise non-public address`
    : undefined;
}

/** Why `raw` cannot be a webhook URL (its form and, in production, its scheme), or undefined when it can. */
export function urlProblem(raw: string, production: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "must be an absolute URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "must be an https:// URL";
  if (production && url.protocol !== "https:") return "must be an https:// URL in production";
  if (url.username || url.password) return "must not carry a user name or password";
  if (raw.length > 2048) return "must be at most 2048 characters";
  return undefined;
}

/** The URL's host as `lookup` takes it (IPv6 literals lose their brackets). */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}

/** Why the URL's host resolves somewhere refused (every address it resolves to is checked), or undefined. */
export async function resolvesRefused(url: URL): Promise<string | undefined> {
  const host = hostOf(url);
  if (isIP(host)) return refusedAddress(host);
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true });
  } catch {
    return `${host} does not resolve`;
  }
  for (const { address } of addresses) {
    const refused = refusedAddress(address);
    if (refused) return `${host} resolves to ${refused}`;
  }
  return undefined;
}
