package dev.crossgate.realtime.net;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringSocketChannel;
import org.junit.jupiter.api.Test;

class TransportTest {

    @Test
    void autoPicksEpollOnLinuxWhenTheNativeLibraryLoadsAndNioOtherwiseAndIoUringOnlyByName() {
        Transport auto = Transport.choose("auto");
        assertThat(auto).isEqualTo(Epoll.isAvailable() ? Transport.EPOLL : Transport.NIO);
        if (System.getProperty("os.name").startsWith("Linux") && System.getProperty("os.arch").matches("amd64|aarch64")) {
            // The shaded jar carries the x86_64 and aarch64 libraries: on those machines epoll must load; io_uring
            // too unless the kernel refuses it (older than 5.10, or kernel.io_uring_disabled set).
            assertThat(Epoll.unavailabilityCause()).isNull();
            assertThat(auto.socketChannel()).isEqualTo(EpollSocketChannel.class);
            if (IoUring.isAvailable()) {
                assertThat(Transport.choose("io_uring").socketChannel()).isEqualTo(IoUringSocketChannel.class);
            }
        }
    }

    @Test
    void nioCanBeForcedAndAnUnknownNameIsRefusedWithTheChoices() {
        assertThat(Transport.choose("NIO").socketChannel()).isEqualTo(NioSocketChannel.class);
        assertThatThrownBy(() -> Transport.choose("uring"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("auto, io_uring, epoll or nio");
    }
}
