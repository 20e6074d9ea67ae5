package dev.crossgate.server.edge;

import dev.crossgate.server.config.CrossgateConfig;
import java.util.Locale;

/**
 * A listener that could not be bound: which option set its address ({@code listen} or {@code admin.listen}), the
 * address, and the cause as the kernel gave it. Both transports are covered: NIO throws
 * {@link java.net.BindException}, the native epoll transport {@code Errors.NativeIoException}
 * ("bind(..) failed: Address already in use"), which is no BindException (issue 13).
 */
public final class ListenException extends Exception {
    private final String option;
    private final CrossgateConfig.Listen address;

    public ListenException(String option, CrossgateConfig.Listen address, Throwable cause) {
        super(option + " " + address + ": " + cause, cause);
        this.option = option;
        this.address = address;
    }

    /** The setting to change: {@code listen} or {@code admin.listen}. */
    public String option() {
        return option;
    }

    public CrossgateConfig.Listen address() {
        return address;
    }

    /**
     * The cause in a few words, with what usually helps: the errno text of bind(2) ("Address already in use",
     * EADDRINUSE; "Permission denied", EACCES for ports below net.ipv4.ip_unprivileged_port_start, 1024 by default;
     * "Cannot assign requested address", EADDRNOTAVAIL), whatever the transport wrapped it in.
     */
    public String reason() {
        String text = String.valueOf(getCause().getMessage());
        String lower = text.toLowerCase(Locale.ROOT);
        if (lower.contains("address already in use")) {
            return "the address is already in use (another process listens there)";
        }
        if (lower.contains("permission denied") || lower.contains("access denied")) {
            return "permission denied" + (address.port() > 0 && address.port() < 1024
                    ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE; use a port of 1024 or more behind a proxy or a port redirect)"
                    : "");
        }
        if (lower.contains("cannot assign requested address")) {
            return "no network interface of this machine has this address";
        }
        if (getCause() instanceof java.nio.channels.UnresolvedAddressException || getCause() instanceof java.net.UnknownHostException) {
            return "the host name does not resolve";
        }
        // The transport's own words, minus the native call's name ("bind(..) failed: ").
        String shown = text.startsWith("bind(..) failed: ") ? text.substring("bind(..) failed: ".length()) : text;
        return shown.equals("null") ? getCause().getClass().getSimpleName() : shown;
    }
}
