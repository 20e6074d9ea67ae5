package dev.crossgate.cors.internal;

/** IPv6 parsing and serialization as the URL standard does it (RFC 5952 shortest form, lower-case hex). */
final class Ipv6 {
    private Ipv6() {}

    /** The canonical text of an IPv6 address without brackets, or null when it is not valid. */
    static String canonical(String s) {
        int[] pieces = parse(s);
        return pieces == null ? null : serialize(pieces);
    }

    static int[] parse(String s) {
        if (s.isEmpty() || s.indexOf('%') >= 0) {
            return null; // zone identifiers are not allowed in URLs
        }
        int[] pieces = new int[8];
        int n = 0;
        int compress = -1;
        int i = 0;
        int len = s.length();
        if (s.startsWith("::")) {
            compress = 0;
            i = 2;
            if (i == len) {
                return pieces;
            }
        } else if (s.charAt(0) == ':') {
            return null;
        }
        while (i < len) {
            if (n == 8) {
                return null;
            }
            int start = i;
            int value = 0;
            while (i < len && hex(s.charAt(i)) >= 0 && i - start < 4) {
                value = value * 16 + hex(s.charAt(i));
                i++;
            }
            if (i < len && s.charAt(i) == '.') {
                // Embedded IPv4 in the last 32 bits.
                if (n > 6) {
                    return null;
                }
                String v4 = s.substring(start);
                if (!OriginSyntax.isIpv4(v4)) {
                    return null;
                }
                String[] parts = v4.split("\\.");
                pieces[n++] = Integer.parseInt(parts[0]) << 8 | Integer.parseInt(parts[1]);
                pieces[n++] = Integer.parseInt(parts[2]) << 8 | Integer.parseInt(parts[3]);
                i = len;
                break;
            }
            if (i == start) {
                return null;
            }
            pieces[n++] = value;
            if (i == len) {
                break;
            }
            if (s.charAt(i) != ':') {
                return null;
            }
            i++;
            if (i < len && s.charAt(i) == ':') {
                if (compress >= 0) {
                    return null;
                }
                compress = n;
                i++;
                if (i == len) {
                    break;
                }
            } else if (i == len) {
                return null;
            }
        }
        if (compress >= 0) {
            if (n == 8) {
                return null;
            }
            int moved = n - compress;
            System.arraycopy(pieces, compress, pieces, 8 - moved, moved);
            for (int k = compress; k < 8 - moved; k++) {
                pieces[k] = 0;
            }
        } else if (n != 8) {
            return null;
        }
        return pieces;
    }

    /** ASCII hex digits only: Character.digit would accept other scripts' digits and fullwidth letters. */
    private static int hex(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    static String serialize(int[] pieces) {
        // URL standard, IPv6 serializer: compress the first longest run of two or more zero pieces.
        int bestStart = -1;
        int bestLen = 1;
        for (int i = 0; i < 8; ) {
            if (pieces[i] == 0) {
                int j = i;
                while (j < 8 && pieces[j] == 0) {
                    j++;
                }
                if (j - i > bestLen) {
                    bestStart = i;
                    bestLen = j - i;
                }
                i = j;
            } else {
                i++;
            }
        }
        StringBuilder out = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                out.append(i == 0 ? "::" : ":");
                i += bestLen - 1;
                continue;
            }
            out.append(Integer.toHexString(pieces[i]));
            if (i < 7) {
                out.append(':');
            }
        }
        return out.toString();
    }
}
