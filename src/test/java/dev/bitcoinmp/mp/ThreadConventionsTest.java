package dev.bitcoinmp.mp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.bitcoinmp.capnp.Capability;
import dev.bitcoinmp.capnp.OutgoingCall;
import dev.bitcoinmp.capnp.PendingCall;
import dev.bitcoinmp.capnp.Response;
import dev.bitcoinmp.capnp.RpcConnection;
import dev.bitcoinmp.capnp.RpcException;
import dev.bitcoinmp.capnp.StructOut;
import dev.bitcoinmp.interfaces.Echo;
import dev.bitcoinmp.interfaces.Init;
import dev.bitcoinmp.ipc.FdStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * libmultiprocess' thread rules seen from a plain Cap'n Proto client (as a foreign client would be): calls
 * naming one server thread run one at a time in order; a pool serves calls that name none.
 */
class ThreadConventionsTest {

    private static final long INIT = 0x8838c700ba5cba65L;
    private static final long THREAD_MAP = 0xee5e37179ad9dc9dL;
    private static final long THREAD = 0x81c1e2600d0b56c5L;
    private static final long ECHO = 0xd36b89640dc94399L;

    /** start and end of each call, in the order they happened. */
    private final List<String> log = new CopyOnWriteArrayList<>();
    private MpConnection server;
    private RpcConnection client;
    private Capability init;

    @BeforeEach
    void connect() throws Exception {
        FdStream[] pair = FdStream.socketPair();
        Init impl = new Init() {
            @Override
            public Echo makeEcho() {
                return new Echo() {
                    @Override
                    public String echo(String value) {
                        log.add("start " + value);
                        try {
                            Thread.sleep(Long.parseLong(value.substring(value.indexOf(':') + 1)));
                        } catch (InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                        log.add("end " + value);
                        return value + " on " + Thread.currentThread().getName();
                    }

                    @Override
                    public void close() {}
                };
            }
        };
        server = MpConnection.serve(pair[0], impl, Init.class, "server");
        client = new RpcConnection(pair[1], null, "raw-client").start();
        init = client.bootstrap();
    }

    @AfterEach
    void close() throws Exception {
        init.close();
        client.close();
        assertTrue(server.awaitEnd(5, TimeUnit.SECONDS));
    }

    /** Init.construct(null) then ThreadMap.makeThread(name), both pipelined; returns the thread. */
    private Capability[] threadMapAndThread(String name) {
        OutgoingCall construct = init.newCall(INIT, 0, 0, 1, 0);
        PendingCall constructed = construct.send();
        Capability threadMap = constructed.pipelinedCap((short) 0);
        constructed.release();
        OutgoingCall make = threadMap.newCall(THREAD_MAP, 0, 0, 1, name.length());
        make.params().setText(0, name);
        PendingCall made = make.send();
        Capability thread = made.pipelinedCap((short) 0);
        made.release();
        return new Capability[] {threadMap, thread};
    }

    private Capability makeEcho(Capability thread) {
        OutgoingCall call = init.newCall(INIT, 1, 0, 1, 0);
        StructOut context = call.params().initStruct(0, 0, 2);
        if (thread != null) context.setCapIndex(0, call.addCap(thread));
        PendingCall pending = call.send();
        Capability echo = pending.pipelinedCap((short) 0);
        pending.release();
        return echo;
    }

    private PendingCall echo(Capability echo, Capability thread, String text) {
        OutgoingCall call = echo.newCall(ECHO, 1, 0, 2, text.length());
        StructOut context = call.params().initStruct(0, 0, 2);
        if (thread != null) context.setCapIndex(0, call.addCap(thread));
        call.params().setText(1, text);
        return call.send();
    }

    private static String text(PendingCall call) {
        try (Response response = call.await()) {
            return response.results().getText(0);
        }
    }

    @Test
    void callsOnOneThreadRunOneAtATimeInOrder() {
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            Capability[] pair = threadMapAndThread("ordered");
            Capability echo = makeEcho(pair[1]);
            List<PendingCall> calls = new ArrayList<>();
            for (int i = 0; i < 4; i++) calls.add(echo(echo, pair[1], "c" + i + ":60"));
            List<String> threads = new ArrayList<>();
            for (PendingCall call : calls) threads.add(text(call).replaceFirst("^c\\d:60 on ", ""));
            assertEquals(List.of("start c0:60", "end c0:60", "start c1:60", "end c1:60", "start c2:60", "end c2:60",
                    "start c3:60", "end c3:60"), log);
            assertEquals(1, threads.stream().distinct().count(), "one server thread: " + threads);
            assertTrue(threads.get(0).endsWith("(from ordered)"), threads.get(0));
            // Thread.getName runs on the connection's loop and names the thread as the calls saw it.
            try (Response name = pair[1].newCall(THREAD, 0, 0, 0, 0).send().await()) {
                assertEquals(threads.get(0), name.results().getText(0));
            }
            echo.close();
            pair[1].close();
            pair[0].close();
        });
    }

    @Test
    void withoutThreadOrPoolTheCallFailsClearly() {
        Capability[] pair = threadMapAndThread("t");
        Capability echo = makeEcho(pair[1]);
        assertTrue(text(echo(echo, pair[1], "ok:0")).startsWith("ok:0 on "), "the object works");
        RpcException e = assertThrows(RpcException.class, () -> text(echo(echo, null, "x:0")));
        assertEquals("no thread specified and no pool configured", e.reason());
        echo.close();
        pair[1].close();
        pair[0].close();
    }

    @Test
    void poolServesCallsThatNameNoThread() {
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            Capability[] pair = threadMapAndThread("unused");
            OutgoingCall makePool = pair[0].newCall(THREAD_MAP, 1, 1, 0, 0);
            makePool.params().setInt(0, 2);
            makePool.send().await().close();
            Capability echo = makeEcho(null);   // made on the pool too
            List<PendingCall> calls = new ArrayList<>();
            for (int i = 0; i < 4; i++) calls.add(echo(echo, null, "p" + i + ":100"));
            List<String> threads = new ArrayList<>();
            for (PendingCall call : calls) threads.add(text(call).replaceFirst("^p\\d:100 on ", ""));
            assertEquals(2, threads.stream().distinct().count(), "two pool threads shared the calls: " + threads);
            for (String t : threads) assertTrue(t.endsWith("(from pool)"), t);
            echo.close();
            pair[1].close();
            pair[0].close();
        });
    }

    @Test
    void aThreadOfAnotherKindIsRefused() {
        // Passing our own (client-side) object as context.thread: the server must refuse it.
        Capability mine = Capability.local(call -> call.returnResults());
        Capability[] pair = threadMapAndThread("t");
        Capability echo = makeEcho(pair[1]);
        assertTrue(text(echo(echo, pair[1], "ok:0")).startsWith("ok:0 on "), "the object works");
        RpcException e = assertThrows(RpcException.class, () -> text(echo(echo, mine, "x:0")));
        assertEquals("invalid thread handle", e.reason());
        echo.close();
        pair[1].close();
        pair[0].close();
    }
}
