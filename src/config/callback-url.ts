import { isIP } from "node:net";

/**
 * Why pods could not call `publicUrl` back, or null when they may. A pod runs in RunPod's data centre: a host
 * that is loopback (`localhost`, 127.0.0.0/8, ::1), private (10/8, 172.16/12, 192.168/16, fc00::/7) or
 * link-local (169.254/16, fe80::/10) is this machine or its own network, never the pod's. Names other than
 * `localhost` are not resolved: a private DNS name passes (DNS answers may differ where the pod runs). Pure.
 */
export function unreachableCallbackReason(publicUrl: string): string | null {
  let host: string;
  try {
    host = new URL(publicUrl).hostname.toLowerCase();
  } catch {
    return "it is not a URL";
  }
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host === "localhost" || host.endsWith(".localhost")) return `its host ${host} is this machine`;
  const kind = privateAddressKind(host);
  return kind === null ? null : `its host ${host} is a ${kind} address`;
}

/** "loopback", "private" or "link-local" for such an IP literal; null for public addresses and names. */
function privateAddressKind(host: string): string | null {
  const family = isIP(host);
  if (family === 4) return ipv4Kind(host);
  if (family !== 6) return null;
  // IPv4-mapped (::ffff:a.b.c.d), which the URL parser writes as two hex groups.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped?.[1] !== undefined && mapped[2] !== undefined) {
    const [high, low] = [parseInt(mapped[1], 16), parseInt(mapped[2], 16)];
    return ipv4Kind(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`);
  }
  if (host === "::1") return "loopback";
  if (/^f[cd][0-9a-f]{0,2}:/.test(host)) return "private";
  if (/^fe[89ab][0-9a-f]?:/.test(host)) return "link-local";
  return null;
}

function ipv4Kind(host: string): string | null {
  const [a = 0, b = 0] = host.split(".").map(Number);
  if (a === 127) return "loopback";
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return "private";
  if (a === 169 && b === 254) return "link-local";
  return null;
}
