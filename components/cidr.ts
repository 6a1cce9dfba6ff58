/** Minimal CIDR parsing for validation and subnet planning (IPv4 and IPv6). */

export interface ParsedCidr {
    readonly family: 4 | 6;
    readonly prefix: number;
    /** The canonical form: host bits cleared. */
    readonly canonical: string;
}

function parseIpv4(addr: string): number[] | undefined {
    const parts = addr.split(".");
    if (parts.length !== 4) {
        return undefined;
    }
    const octets = parts.map((p) => (/^(0|[1-9][0-9]{0,2})$/.test(p) ? Number(p) : NaN));
    return octets.every((o) => o >= 0 && o <= 255) ? octets : undefined;
}

function parseIpv6(addr: string): number[] | undefined {
    if (!/^[0-9a-fA-F:]+$/.test(addr) || addr.split("::").length > 2) {
        return undefined;
    }
    const [head, tail] = addr.includes("::") ? addr.split("::") : [addr, undefined];
    const h = head === "" ? [] : head.split(":");
    const t = tail === undefined ? [] : tail === "" ? [] : tail.split(":");
    if ([...h, ...t].some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) {
        return undefined;
    }
    const missing = 8 - h.length - t.length;
    if (tail === undefined ? missing !== 0 : missing < 1) {
        return undefined;
    }
    const groups = [...h, ...Array(tail === undefined ? 0 : missing).fill("0"), ...t];
    return groups.map((g) => parseInt(g, 16));
}

function mask(values: number[], bitsPer: number, prefix: number): number[] {
    return values.map((v, i) => {
        const start = i * bitsPer;
        const keep = Math.max(0, Math.min(bitsPer, prefix - start));
        const m = keep === 0 ? 0 : ((2 ** bitsPer - 1) >> (bitsPer - keep)) << (bitsPer - keep);
        return v & m;
    });
}

function formatIpv6(groups: number[]): string {
    // RFC 5952: compress the longest run (2 or more) of zero groups.
    let best = -1;
    let bestLen = 0;
    for (let i = 0; i < 8; ) {
        if (groups[i] !== 0) {
            i++;
            continue;
        }
        let j = i;
        while (j < 8 && groups[j] === 0) {
            j++;
        }
        if (j - i > bestLen && j - i >= 2) {
            best = i;
            bestLen = j - i;
        }
        i = j;
    }
    const hex = groups.map((g) => g.toString(16));
    if (best < 0) {
        return hex.join(":");
    }
    return hex.slice(0, best).join(":") + "::" + hex.slice(best + bestLen).join(":");
}

/** Parses "a.b.c.d/n" or an IPv6 "x::/n"; undefined when malformed. */
export function parseCidr(cidr: string): ParsedCidr | undefined {
    const m = /^([^/]+)\/([0-9]{1,3})$/.exec(cidr);
    if (!m) {
        return undefined;
    }
    const prefix = Number(m[2]);
    const v4 = parseIpv4(m[1]);
    if (v4) {
        if (prefix > 32) {
            return undefined;
        }
        return { family: 4, prefix, canonical: `${mask(v4, 8, prefix).join(".")}/${prefix}` };
    }
    const v6 = parseIpv6(m[1]);
    if (v6) {
        if (prefix > 128) {
            return undefined;
        }
        return { family: 6, prefix, canonical: `${formatIpv6(mask(v6, 16, prefix))}/${prefix}` };
    }
    return undefined;
}

/** True for a bare address (no prefix), so an error can suggest "/32". */
export function isBareAddress(value: string): boolean {
    return parseIpv4(value) !== undefined || parseIpv6(value) !== undefined;
}

/**
 * Splits an IPv4 block into `count` equal subnets, `extraBits` longer than the block.
 * Example: ("10.0.0.0/16", 3, 4) -> 10.0.0.0/20, 10.0.16.0/20, 10.0.32.0/20.
 */
export function splitIpv4Cidr(cidr: string, count: number, extraBits: number): string[] {
    const parsed = parseCidr(cidr);
    if (!parsed || parsed.family !== 4) {
        throw new Error(`not an IPv4 CIDR block: ${cidr}`);
    }
    const newPrefix = parsed.prefix + extraBits;
    if (newPrefix > 28 || count > 2 ** extraBits) {
        throw new Error(`${cidr} cannot hold ${count} subnets of /${newPrefix}`);
    }
    const base = parseIpv4(parsed.canonical.split("/")[0])!.reduce((acc, o) => acc * 256 + o, 0);
    const size = 2 ** (32 - newPrefix);
    const out: string[] = [];
    for (let i = 0; i < count; i++) {
        let n = base + i * size;
        const octets: number[] = [];
        for (let k = 0; k < 4; k++) {
            octets.unshift(n % 256);
            n = Math.floor(n / 256);
        }
        out.push(`${octets.join(".")}/${newPrefix}`);
    }
    return out;
}
