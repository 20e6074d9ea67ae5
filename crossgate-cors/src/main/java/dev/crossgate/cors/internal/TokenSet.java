package dev.crossgate.cors.internal;

import java.util.Collection;
import java.util.Locale;

/**
 * An immutable set of ASCII header names looked up case-insensitively by a region of a string, without
 * allocating: a preflight's Access-Control-Request-Headers is checked in place, token by token.
 */
public final class TokenSet {
    private final String[] table;
    private final int mask;
    private final int size;

    public TokenSet(Collection<String> names) {
        int capacity = Integer.highestOneBit(Math.max(4, names.size() * 4) - 1) << 1;
        table = new String[capacity];
        mask = capacity - 1;
        int n = 0;
        for (String name : names) {
            String lower = name.toLowerCase(Locale.ROOT);
            int slot = hash(lower, 0, lower.length()) & mask;
            while (table[slot] != null && !table[slot].equals(lower)) {
                slot = (slot + 1) & mask;
            }
            if (table[slot] == null) {
                table[slot] = lower;
                n++;
            }
        }
        size = n;
    }

    public int size() {
        return size;
    }

    public boolean contains(String s) {
        return contains(s, 0, s.length());
    }

    /** Whether {@code s[start, end)} is in the set, ignoring ASCII case. */
    public boolean contains(String s, int start, int end) {
        int len = end - start;
        int slot = hash(s, start, end) & mask;
        String candidate;
        while ((candidate = table[slot]) != null) {
            if (candidate.length() == len && candidate.regionMatches(true, 0, s, start, len)) {
                return true;
            }
            slot = (slot + 1) & mask;
        }
        return false;
    }

    private static int hash(String s, int start, int end) {
        int h = 0;
        for (int i = start; i < end; i++) {
            char c = s.charAt(i);
            if (c >= 'A' && c <= 'Z') {
                c += 32;
            }
            h = 31 * h + c;
        }
        return h ^ (h >>> 16);
    }
}
