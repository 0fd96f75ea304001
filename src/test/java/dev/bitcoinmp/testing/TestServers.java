package dev.bitcoinmp.testing;

import dev.bitcoinmp.interfaces.Echo;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/** Java implementations of the test schema, with the behaviour the C++ peer's servers have too. */
public final class TestServers {
    private TestServers() {}

    /** Events the servers saw, in order, for tests to assert on. */
    public static final class Events {
        public final Queue<String> lines = new ConcurrentLinkedQueue<>();
        public final Queue<Thread> threads = new ConcurrentLinkedQueue<>();

        void add(String line) {
            lines.add(line);
            threads.add(Thread.currentThread());
        }
    }

    public static final class InitImpl implements TestInit {
        private final Events events;

        public InitImpl(Events events) {
            this.events = events;
        }

        @Override
        public Echo makeEcho() {
            events.add("makeEcho");
            return new EchoImpl(events);
        }

        @Override
        public Calculator makeCalculator() {
            events.add("makeCalculator");
            return new CalculatorImpl(events);
        }
    }

    public static final class EchoImpl implements Echo {
        private final Events events;

        public EchoImpl(Events events) {
            this.events = events;
        }

        @Override
        public String echo(String echo) {
            events.add("echo " + echo.getBytes(java.nio.charset.StandardCharsets.UTF_8).length);
            if (echo.startsWith("throw:")) throw new IllegalArgumentException(echo.substring(6));
            if (echo.startsWith("sleep:")) {
                try {
                    Thread.sleep(Long.parseLong(echo.substring(6)));
                } catch (InterruptedException e) {
                    events.add("interrupted");
                    throw new IllegalStateException("interrupted");
                }
            }
            return echo;
        }

        @Override
        public void close() {
            events.add("destroy echo");
        }
    }

    public static final class CalculatorImpl implements Calculator {
        private final Events events;

        CalculatorImpl(Events events) {
            this.events = events;
        }

        @Override
        public long solve(String terms, Printer printer) {
            long sum = 0;
            try (printer) {
                for (String term : terms.split(",")) {
                    sum += Long.parseLong(term.trim());
                    printer.print("partial " + sum);
                }
            }
            return sum;
        }

        @Override
        public Mixed bump(Mixed value) {
            return value.bumped();
        }

        @Override
        public List<Integer> reverse(List<Integer> values) {
            List<Integer> out = new ArrayList<>(values);
            java.util.Collections.reverse(out);
            return out;
        }

        @Override
        public void close() {
            events.add("destroy calculator");
        }
    }

    /** A client-side printer that records what it printed and on which thread. */
    public static final class RecordingPrinter implements Printer {
        public final List<String> printed = new ArrayList<>();
        public final List<Thread> threads = new ArrayList<>();

        @Override
        public synchronized void print(String text) {
            printed.add(text);
            threads.add(Thread.currentThread());
        }

        @Override
        public void close() {}
    }
}
