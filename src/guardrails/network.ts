/** IP addresses: IPv4 (dotted quad) and IPv6 (validated with `node:net`). */
import { isIPv6 } from "node:net";
import { collect, type Finding } from "./types.ts";

const OCTET = "(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?![\\w]|\\.\\d)`, "g");
const IPV6 = /(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])/g;

export function detectIps(text: string): Finding[] {
  const v4 = collect(IPV4, text, "ip", () => true);
  const v6 = collect(IPV6, text, "ip", (m) => {
    const s = m[0];
    if (!isIPv6(s)) return false;
    // At least two hex groups (not "::" or a bare "::1"-like time); times such as 10:30:00 are not IPv6.
    return (s.match(/[0-9A-Fa-f]+/g)?.length ?? 0) >= 2 || s === "::1";
  });
  return [...v4, ...v6];
}
