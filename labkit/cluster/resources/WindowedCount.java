// A Kafka Streams application: count the records of each key in event-time tumbling windows
// with a grace period, and publish every updated count to a topic. labkit compiles and runs it
// (labkit/streams.py) to compare its result with a processor written by hand in Python.
//
// Run: java -cp <kafka-streams jars>:<classes> WindowedCount app.properties
// The properties file holds Kafka Streams' own settings (application.id, bootstrap.servers, ...)
// and four of this program's: input, output, window.ms, grace.ms.
//
// Output: key "<key>@<window start in ms>", value {"key": ..., "window_start": ...,
// "window_end": ..., "count": ...} (JSON), one record per update of a window's count.

import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Grouped;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TimeWindows;
import org.apache.kafka.streams.state.Stores;

public final class WindowedCount {

    static Topology topology(String input, String output, long windowMs, long graceMs) {
        Duration size = Duration.ofMillis(windowMs);
        Duration grace = Duration.ofMillis(graceMs);
        StreamsBuilder builder = new StreamsBuilder();
        builder.stream(input, Consumed.with(Serdes.String(), Serdes.String()))
            .groupByKey(Grouped.with(Serdes.String(), Serdes.String()))
            .windowedBy(TimeWindows.ofSizeAndGrace(size, grace))
            // an in-memory window store (its changelog topic still makes it durable): the
            // lab needs no RocksDB, which saves a 70 MB download
            .count(Materialized.<String, Long>as(
                    Stores.inMemoryWindowStore("counts", size.plus(grace), size, false))
                .withKeySerde(Serdes.String())
                .withValueSerde(Serdes.Long()))
            .toStream()
            .map((windowed, count) -> KeyValue.pair(
                windowed.key() + "@" + windowed.window().start(),
                "{\"key\": \"" + windowed.key().replace("\\", "\\\\").replace("\"", "\\\"")
                    + "\", \"window_start\": " + windowed.window().start()
                    + ", \"window_end\": " + windowed.window().end()
                    + ", \"count\": " + count + "}"))
            .to(output, Produced.with(Serdes.String(), Serdes.String()));
        return builder.build();
    }

    static String take(Properties props, String name) {
        Object value = props.remove(name);
        if (value == null) {
            throw new IllegalArgumentException("missing setting " + name);
        }
        return value.toString();
    }

    public static void main(String[] args) throws IOException, InterruptedException {
        if (args.length != 1) {
            System.err.println("usage: WindowedCount app.properties");
            System.exit(2);
        }
        Properties props = new Properties();
        try (InputStream in = new FileInputStream(args[0])) {
            props.load(in);
        }
        Topology topology = topology(take(props, "input"), take(props, "output"),
            Long.parseLong(take(props, "window.ms")), Long.parseLong(take(props, "grace.ms")));
        System.out.println("topology " + topology.describe().toString().replace('\n', ' '));
        KafkaStreams streams = new KafkaStreams(topology, props);
        CountDownLatch done = new CountDownLatch(1);
        streams.setStateListener((now, before) -> {
            System.out.println("state " + now);
            if (now == KafkaStreams.State.NOT_RUNNING || now == KafkaStreams.State.ERROR) {
                done.countDown();
            }
        });
        streams.setUncaughtExceptionHandler(e -> {
            System.out.println("error " + e);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {   // SIGTERM: a clean close
            // leave the group at once (by default Kafka Streams stays in it until its session
            // times out, to spare a rebalance when an instance restarts quickly)
            streams.close(CloseOptions.groupMembershipOperation(
                    CloseOptions.GroupMembershipOperation.LEAVE_GROUP)
                .withTimeout(Duration.ofSeconds(10)));
            done.countDown();
        }));
        streams.start();
        done.await();
    }
}
