package dev.crossgate.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class HostPatternTest {
    @ParameterizedTest(name = "{0} vs {1}:{2} -> {3}")
    @CsvSource({
            "api.example.com,      api.example.com,     443,  true",
            "api.example.com,      API.Example.com,     8080, true",
            "api.example.com,      api.example.com.,    80,   true",
            "api.example.com,      www.api.example.com, 80,   false",
            "api.example.com:8443, api.example.com,     8443, true",
            "api.example.com:8443, api.example.com,     443,  false",
            ".example.com,         example.com,         80,   true",
            ".example.com,         a.b.example.com,     80,   true",
            ".example.com,         badexample.com,      80,   false",
            "*.example.com,        example.com,         80,   false",
            "*.example.com,        a.example.com,       80,   true",
            "10.0.2.2,             10.0.2.2,            8080, true",
            "10.0.2.2:8080,        10.0.2.2,            8000, false",
            "[::1],                [::1],               80,   true",
            "localhost:80,         localhost,           80,   true",
            "localhost:80,         localhost,           8080, false",
            "*,                    anything.example,    1,    true",
    })
    void hostEntriesMatchTheHostHeader(String entry, String host, int port, boolean expected) throws Exception {
        assertThat(HostPattern.parse(entry).matches(host, port)).isEqualTo(expected);
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
            "https://api.example.com/ | \"https://api.example.com/\" is a URL; hosts are names as sent in the Host header | write \"api.example.com\"",
            "api.example.com/v1       | \"api.example.com/v1\" has a path; hosts are names as sent in the Host header | write \"api.example.com\"",
            "*.10.0.2.2               | \"*.10.0.2.2\" puts a subdomain wildcard before an IP address | list the address exactly",
    })
    void invalidHostEntriesSayWhatIsWrongAndTheFix(String entry, String message, String fix) {
        assertThatThrownBy(() -> HostPattern.parse(entry)).isInstanceOfSatisfying(HostPattern.Invalid.class, e -> {
            assertThat(e.getMessage()).isEqualTo(message);
            assertThat(e.fix()).isEqualTo(fix);
        });
    }
}
