package dev.crossgate.server.config;

/**
 * One effective configuration value, as {@code crossgate check} prints it: path, value, and where it came from.
 * The value is stored with control characters escaped ({@link ConfigProblem#visible}): it is only ever shown.
 */
public record Setting(String path, String value, Source source) {
    public Setting {
        path = ConfigProblem.visible(path);
        value = ConfigProblem.visible(value);
    }
}
