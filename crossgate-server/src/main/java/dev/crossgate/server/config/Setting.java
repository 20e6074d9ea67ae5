package dev.crossgate.server.config;

/** One effective configuration value, as {@code crossgate check} prints it: path, value, and where it came from. */
public record Setting(String path, String value, Source source) {}
