import { unreachableCallbackReason } from "./callback-url";

describe("unreachableCallbackReason", () => {
  it.each<[string, string | null]>([
    ["http://localhost:4000", "its host localhost is this machine"],
    ["http://api.localhost", "its host api.localhost is this machine"],
    ["http://127.0.0.1:4000", "its host 127.0.0.1 is a loopback address"],
    ["http://127.8.9.10", "its host 127.8.9.10 is a loopback address"],
    ["http://[::1]:4000", "its host ::1 is a loopback address"],
    ["http://[::ffff:127.0.0.1]", "its host ::ffff:7f00:1 is a loopback address"],
    ["http://10.0.0.5", "its host 10.0.0.5 is a private address"],
    ["http://172.16.0.1", "its host 172.16.0.1 is a private address"],
    ["http://172.31.255.255", "its host 172.31.255.255 is a private address"],
    ["http://192.168.1.20:4000", "its host 192.168.1.20 is a private address"],
    ["http://169.254.169.254", "its host 169.254.169.254 is a link-local address"],
    ["http://[fd12:3456::1]", "its host fd12:3456::1 is a private address"],
    ["http://[fc00::1]", "its host fc00::1 is a private address"],
    ["http://[fe80::1]", "its host fe80::1 is a link-local address"],
    // Reachable from a pod (or a name we do not resolve).
    ["https://tg.example.com", null],
    ["http://172.32.0.1", null],
    ["http://172.15.0.1", null],
    ["http://11.0.0.1", null],
    ["http://203.0.113.7:4000", null],
    ["http://[2001:db8::1]", null],
    ["http://gateway.internal", null],
  ])("%s -> %p", (url, expected) => {
    expect(unreachableCallbackReason(url)).toBe(expected);
  });
});
