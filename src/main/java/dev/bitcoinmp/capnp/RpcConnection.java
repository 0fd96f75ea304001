package dev.bitcoinmp.capnp;

import java.io.IOException;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.capnproto.BuilderArena;
import org.capnproto.SegmentBuilder;
import org.capnproto.StructList;

/**
 * One two-party Cap'n Proto RPC connection (level 1): the four tables (questions, answers, imports,
 * exports), promise pipelining, and the reader thread that handles every incoming message.
 *
 * <p>All table state is guarded by one lock, under which outgoing messages are also queued, so the wire
 * order is the order of table changes. Whoever queues a message writes the queue out itself, unless
 * another thread is already writing (it then writes ours too); the reader thread never blocks on a write:
 * it leaves its messages to a writer thread, so that two peers can never block each other.
 */
public final class RpcConnection implements AutoCloseable {

    private static final StructList.Factory<StructOut, StructIn> CAP_LIST =
            AnyStruct.listOf(RpcSchema.CAPDESC_WORDS, RpcSchema.CAPDESC_PTRS);
    private static final StructList.Factory<StructOut, StructIn> OP_LIST =
            AnyStruct.listOf(RpcSchema.OP_WORDS, RpcSchema.OP_PTRS);
    private static final Capability[] NO_CAPS = new Capability[0];
    private static final int[] NO_IDS = new int[0];

    private final Stream stream;
    private final FrameReader frames;
    private final Server bootstrap;
    private final String name;
    private final Consumer<String> debug;
    private final Object lock = new Object();

    // Tables. Questions and exports are numbered here (lowest free first); answers and imports by the peer.
    private final IdTable<PendingCall> questions = new IdTable<>();
    private final IntMap<Answer> answers = new IntMap<>();
    private final IntMap<ImportEntry> imports = new IntMap<>();
    private final IdTable<ExportEntry> exports = new IdTable<>();
    private final Map<Server, ExportEntry> exportsByServer = new IdentityHashMap<>();
    private final Map<Integer, PromiseState> embargoes = new HashMap<>();
    private final java.util.Set<ExportEntry> lingering = new java.util.HashSet<>();  // released by the peer, held by calls
    private int nextEmbargo;
    private List<Runnable> afterUnlock;   // see runAfterUnlock

    // Outgoing messages, written in this order (see frame for what an entry is).
    private Outbox outbound = new Outbox();
    private Outbox spare = new Outbox();
    private boolean writing;
    private final FrameWriter frameWriter = new FrameWriter();   // used by whoever is writing
    private Thread writer;

    private final Thread reader;
    private volatile boolean closed;
    private RpcException closeReason;
    private final CountDownLatch finished = new CountDownLatch(1);
    private final List<Runnable> disconnectListeners = new CopyOnWriteArrayList<>();
    private volatile Object attachment;

    /**
     * A connection over {@code stream}; {@code bootstrap} is the object offered to the peer (null for a
     * side that offers none). Call {@link #start()} to begin reading.
     */
    public RpcConnection(Stream stream, Server bootstrap, String name, ReaderLimits limits, Consumer<String> debug) {
        this.stream = stream;
        this.frames = new FrameReader(stream, limits);
        this.bootstrap = bootstrap;
        this.name = name;
        this.debug = debug;
        this.reader = new Thread(this::readLoop, "capnp-reader-" + name);
        reader.setDaemon(true);
    }

    public RpcConnection(Stream stream, Server bootstrap, String name) {
        this(stream, bootstrap, name, ReaderLimits.DEFAULT, null);
    }

    /**
     * How many of our calls on this connection await their answers: a hint read without the lock (for a waiting
     * thread deciding whether to spin, see {@link Waiter}), which may be stale.
     */
    int questionsInFlight() {
        return questions.count();
    }

    public RpcConnection start() {
        reader.start();
        // A connection that serves answers its peer's bootstrap from the reader thread, that is through the
        // writer thread: made now, alongside the first read, rather than when that first answer waits for it.
        if (bootstrap != null) {
            synchronized (lock) {
                startWriter();
            }
        }
        return this;
    }

    public String name() {
        return name;
    }

    /** What the layer above keeps with this connection (set once, before start). */
    public void attach(Object value) {
        attachment = value;
    }

    public Object attachment() {
        return attachment;
    }

    public boolean isOpen() {
        return !closed;
    }

    /** Runs {@code listener} once the connection has ended (at once if it has). */
    public void onDisconnect(Runnable listener) {
        disconnectListeners.add(listener);
        if (finished.getCount() == 0 && disconnectListeners.remove(listener)) listener.run();
    }

    /** Waits until the connection has ended and its objects were released; false on timeout. */
    public boolean awaitEnd(long timeout, TimeUnit unit) throws InterruptedException {
        return finished.await(timeout, unit);
    }

    /** True when called on this connection's reader thread (where calls without a thread run). */
    public boolean onReaderThread() {
        return Thread.currentThread() == reader;
    }

    /** Asks the peer for its bootstrap object; the capability is usable at once (pipelined). */
    public Capability bootstrap() {
        PendingCall pending = new PendingCall(this);
        Capability cap;
        synchronized (lock) {
            if (closed) return new BrokenCap(closeReason);
            int id = questions.add(pending);
            pending.questionId = id;
            StructOut out = Messages.newMessage(RpcSchema.BOOTSTRAP, RpcSchema.BOOTSTRAP_WORDS, RpcSchema.BOOTSTRAP_PTRS, 0);
            out.setInt(0, id);
            enqueue(out);
            cap = new PromiseCap(pending, id, new short[0]);
        }
        pending.release();
        flush();
        return cap;
    }

    /** Ends the connection: pending calls fail, running calls are canceled, exported objects released. */
    @Override
    public void close() {
        shutdown(RpcException.disconnected("connection closed"), null);
        awaitFinished();
    }

    /** Ends the connection as {@link #close()} does, first telling the peer why in an Abort message. */
    public void abort(String reason) {
        shutdown(RpcException.disconnected(reason), reason);
        awaitFinished();
    }

    private void awaitFinished() {
        if (Thread.currentThread() != reader) {
            try {
                finished.await(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    // ---------------------------------------------------------------- writing

    // The queue's entries. Under the lock.

    /** Queues the message {@code part} is a struct of (any struct of it: they share the message's arena). */
    private void enqueue(StructOut part) {
        if (!closed) outbound.add(part.arena());
    }

    /** Queues a Finish or a Release, by its data word (see {@link SmallMessage}). */
    private void enqueueSmall(short tag, long data) {
        if (!closed) outbound.addSmall(tag, data);
    }

    /** Queues the Call message of {@code call}: reused once written (see {@link #afterWrite}). */
    private void enqueueCall(OutgoingCall call) {
        if (!closed) outbound.add(call);
    }

    /** Queues the Return of {@code answer}: reused once written and the answer is finished. */
    private void enqueueReturn(Answer answer) {
        if (!closed) outbound.add(answer);
    }

    /** Adds the frames of {@code batch} to the frame writer. By the writing thread. */
    private void frame(Outbox batch) {
        for (int i = 0; i < batch.size(); i++) {
            // instanceof chains rather than type switches here: a type switch's bootstrap generates a class at
            // run time, which a spawned child would pay for at start-up (the AOT cache cannot hold it).
            Object message = batch.message(i);
            if (message == null) {
                frameWriter.addSmall(batch.smallTag(i), batch.smallData(i));
            } else if (message instanceof BuilderArena built) {
                frameWriter.add(built);
            } else if (message instanceof OutgoingCall call) {
                frameWriter.add(call.message);
            } else if (message instanceof Answer answer) {
                frameWriter.add(answer.returnMessage);
            } else {
                throw new IllegalStateException("not a message: " + message);
            }
        }
    }

    /** The messages of {@code batch} were written: Calls, and Returns already finished, are reused. Under the lock. */
    private void afterWrite(Outbox batch) {
        for (int i = 0; i < batch.size(); i++) {
            Object message = batch.message(i);
            if (message instanceof OutgoingCall call) {
                recycle(call.message);
            } else if (message instanceof Answer answer) {
                answer.returnWritten = true;
                if (answer.removed) recycleReturn(answer);
            }
        }
    }

    // ---------------------------------------------------------------- reused messages

    /**
     * Messages that were written and that nothing refers to any more, to build others in: the Call and the
     * Return of a call cost no new buffers. Guarded by itself. A Call message is free once written (the
     * caller is done with its OutgoingCall when it sends it); a Return once written and its answer finished
     * (until then calls pipelined on it read its results).
     */
    private final BuilderArena[] spareMessages = new BuilderArena[MAX_SPARE_MESSAGES];
    private int spareCount;        // guarded by spareMessages, as spareWords
    private long spareWords;
    private static final int MAX_SPARE_MESSAGES = 32;
    private static final int MIN_MESSAGE_WORDS = 32;             // messages that may be reused start this large
    private static final int MAX_SPARE_WORDS = 128 * 1024;       // larger first segments (1 MiB) are left to the GC
    private static final long MAX_SPARE_TOTAL_WORDS = 1L << 19;  // 4 MiB kept at most
    private static final int DIRECT_MESSAGE_WORDS = 1024;        // larger ones (over 8 KiB) are made in native memory

    /** An empty message with a first segment of at least {@code words} words: a spare one (the smallest that fits), or new. */
    BuilderArena takeMessage(int words) {
        synchronized (spareMessages) {
            int best = -1;
            for (int i = 0; i < spareCount; i++) {
                int size = Messages.firstSegmentWords(spareMessages[i]);
                if (size >= words && (best < 0 || size < Messages.firstSegmentWords(spareMessages[best]))) best = i;
            }
            if (best >= 0) {
                BuilderArena spare = spareMessages[best];
                spareMessages[best] = spareMessages[--spareCount];
                spareMessages[spareCount] = null;
                spareWords -= Messages.firstSegmentWords(spare);
                return spare;
            }
        }
        if (words <= DIRECT_MESSAGE_WORDS || words > MAX_SPARE_WORDS) return Messages.newArena(Math.max(words, MIN_MESSAGE_WORDS));
        // A large message is made a power of two large (so that it serves later ones of somewhat other sizes),
        // in native memory (so that it is written from where it is).
        return Messages.newDirectArena(Integer.highestOneBit(words - 1) << 1);
    }

    /** Keeps {@code message}, which nothing refers to any more, for reuse. Under the lock. */
    private void recycle(BuilderArena message) {
        int words = Messages.firstSegmentWords(message);
        if (closed || words > MAX_SPARE_WORDS) return;
        synchronized (spareMessages) {
            if (spareCount == MAX_SPARE_MESSAGES || spareWords + words > MAX_SPARE_TOTAL_WORDS) return;
            Messages.clear(message);
            spareMessages[spareCount++] = message;
            spareWords += words;
        }
    }

    /** The Return of {@code answer} was written and the answer is finished. Under the lock. */
    private void recycleReturn(Answer answer) {
        BuilderArena message = answer.returnMessage;
        answer.returnMessage = null;
        answer.returnedPayload = null;
        answer.returnedPayloadWord = -1;
        if (message != null) recycle(message);
    }

    /** Writes queued messages: on this thread, or, on the reader thread, by the writer thread. */
    void flush() {
        if (Thread.holdsLock(lock)) return;  // whoever holds the lock flushes once it lets go
        if (Thread.currentThread() == reader) {
            flushLater();
            return;
        }
        drain();
    }

    private void flushLater() {
        synchronized (lock) {
            if (outbound.isEmpty() || writing) return;
            startWriter();
            lock.notifyAll();
        }
    }

    /** Starts the writer thread if there is none yet. Under the lock. */
    private void startWriter() {
        if (writer != null) return;
        writer = new Thread(this::writeLoop, "capnp-writer-" + name);
        writer.setDaemon(true);
        writer.start();
    }

    private void writeLoop() {
        while (true) {
            synchronized (lock) {
                while (!closed && (outbound.isEmpty() || writing)) {
                    try {
                        lock.wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed && outbound.isEmpty()) return;
            }
            drain();
        }
    }

    private void drain() {
        while (true) {
            Outbox batch;
            synchronized (lock) {
                if (writing || outbound.isEmpty()) return;
                writing = true;
                batch = outbound;
                outbound = spare;
                spare = batch;
            }
            try {
                frame(batch);
                frameWriter.writeTo(stream);
            } catch (IOException | RuntimeException e) {
                frameWriter.reset();
                synchronized (lock) { writing = false; }
                batch.clear();
                shutdown(RpcException.disconnected("write failed: " + e.getMessage()), null);
                return;
            }
            synchronized (lock) {
                afterWrite(batch);
                batch.clear();
                writing = false;
                if (closed) lock.notifyAll();
            }
        }
    }

    // ---------------------------------------------------------------- reading

    private void readLoop() {
        RpcException reason = RpcException.disconnected("peer disconnected");
        String abort = null;
        Waiter.deferWakes();   // until shutdown (see Waiter.wake)
        try {
            FrameReader.Receiver receiver = new FrameReader.Receiver() {
                @Override
                public void message(InMessage message) {
                    Waiter.deferWhile(frames.buffered() > 0);
                    handle(message);
                }

                @Override
                public void small(short tag, long data) {
                    Waiter.deferWhile(frames.buffered() > 0);
                    handleSmall(tag, data);
                }
            };
            while (!closed && frames.next(receiver)) {
                // each message is handled as it is read
            }
        } catch (PeerAbort e) {
            reason = RpcException.disconnected("peer aborted: " + e.getMessage());
        } catch (MalformedMessageException e) {
            abort = e.getMessage();
            reason = RpcException.disconnected("malformed message from peer: " + e.getMessage());
        } catch (IOException e) {
            reason = RpcException.disconnected("peer disconnected: " + e.getMessage());
        } catch (RuntimeException | StackOverflowError | AssertionError e) {
            // The runtime signals some malformed input with assertions (when enabled) or runtime errors.
            abort = "invalid message: " + e;
            reason = RpcException.disconnected("malformed message from peer: " + e);
        } catch (Throwable e) {
            abort = "internal error: " + e;
            reason = RpcException.disconnected("internal error reading from peer: " + e);
            shutdown(reason, abort);
            throw e;
        }
        shutdown(reason, abort);
    }

    /**
     * Handles {@code message} and releases it for reuse (see {@link InMessage}) once nothing reads it any more:
     * here, for every kind but a Call (its parameters are read until it is answered) and a Return (its
     * results are read until the response is closed).
     */
    private void handle(InMessage message) {
        short tag = message.tag();
        if (debug != null) debug.accept(name + " <- " + tagName(tag));
        switch (tag) {
            case RpcSchema.BOOTSTRAP -> handleBootstrap(message.member());
            case RpcSchema.CALL -> {
                if (!message.inPlace() || !handleCallInPlace(message)) handleCall(message.member(), message);
                return;
            }
            case RpcSchema.RETURN -> {
                if (!message.inPlace() || !handleReturnInPlace(message)) handleReturn(message.member(), message);
                return;
            }
            case RpcSchema.FINISH -> handleFinish(message.member());
            case RpcSchema.RELEASE -> handleRelease(message.member());
            case RpcSchema.RESOLVE -> handleResolve(message.member());
            case RpcSchema.DISEMBARGO -> handleDisembargo(message.member());
            case RpcSchema.ABORT -> {
                StructIn exception = message.member();
                throw new PeerAbort(exception.getText(0));
            }
            case RpcSchema.UNIMPLEMENTED -> handleUnimplemented(message.member());
            default -> replyUnimplemented(message.root());
        }
        message.release();
    }

    /** A Finish or a Release the frame reader read without a message reader (see {@link SmallMessage}). */
    private void handleSmall(short tag, long data) {
        if (debug != null) debug.accept(name + " <- " + tagName(tag));
        switch (tag) {
            case RpcSchema.FINISH -> handleFinish((int) data, (data & 1L << RpcSchema.FINISH_RELEASE_RESULT_CAPS_BIT) == 0);
            case RpcSchema.RELEASE -> handleRelease((int) data, (int) (data >>> 32));
            default -> throw new IllegalArgumentException("not a small message: " + tag);
        }
    }

    /** The peer ended the connection with an Abort. */
    private static final class PeerAbort extends RuntimeException {
        PeerAbort(String reason) { super(reason, null, false, false); }
    }

    private void handleBootstrap(StructIn request) {
        int id = request.getInt(0);
        synchronized (lock) {
            if (answers.containsKey(id)) throw new MalformedMessageException("question id " + id + " is in use");
            Answer answer = new Answer(id);
            answers.put(id, answer);
            NetworkCall call = new NetworkCall(answer, 0, 0, null, NO_CAPS, null, null);
            if (bootstrap == null) {
                call.returnException(new RpcException(RpcException.Type.FAILED, "this side offers no bootstrap object"));
            } else {
                call.returnBootstrap(new LocalCap(bootstrap));
            }
        }
        flushLater();
    }

    private final int[] listCount = new int[1];   // reader thread only

    /**
     * The capability table at pointer 1 of {@code payload} read in place, if none of its descriptors names
     * one of our answers (those are read with views, see {@link #answerRef}): as a list reference, its
     * count in {@link #listCount}; else NOT_SIMPLE.
     */
    private long simpleCapTable(InMessage m, long payload) {
        long table = m.structList(InMessage.pointer(payload, 1), listCount);
        if (table == InMessage.NOT_SIMPLE) return table;
        for (int i = 0; i < listCount[0]; i++) {
            if (m.getShort(InMessage.element(table, i), 0) == RpcSchema.CAP_RECEIVER_ANSWER) return InMessage.NOT_SIMPLE;
        }
        return table;
    }

    /** The capabilities of a table from {@link #simpleCapTable} ({@code count} of them). Under the lock. */
    private Capability[] readCapTable(InMessage m, long table, int count) {
        if (count == 0) return NO_CAPS;
        Capability[] caps = new Capability[count];
        try {
            for (int i = 0; i < count; i++) {
                long descriptor = InMessage.element(table, i);
                caps[i] = readCapDescriptor(m.getShort(descriptor, 0), m.getInt(descriptor, RpcSchema.CAPDESC_ID_INT), null);
            }
        } catch (RuntimeException e) {
            for (Capability cap : caps) if (cap != null) cap.close();
            throw e;
        }
        return caps;
    }

    /**
     * A Call to an import whose envelope is read in place (see {@link InMessage#struct}), as {@link #handleCall}
     * does it with views; false (nothing read or taken) when the message takes the views' way: a call on a
     * promised answer, a descriptor naming an answer, an envelope not laid out in near pointers.
     */
    private boolean handleCallInPlace(InMessage m) {
        long call = m.structField(m.rootStruct(), 0);
        if (call == InMessage.NOT_SIMPLE || call == 0) return false;
        long target = m.structField(call, RpcSchema.CALL_TARGET);
        long payload = m.structField(call, RpcSchema.CALL_PARAMS);
        if (target == InMessage.NOT_SIMPLE || payload == InMessage.NOT_SIMPLE || payload == 0) return false;
        if (m.getShort(target, RpcSchema.TARGET_TAG_SHORT) != RpcSchema.TARGET_IMPORTED) return false;
        long params = m.structField(payload, 0);
        if (params == InMessage.NOT_SIMPLE || params == 0) return false;
        long table = simpleCapTable(m, payload);
        if (table == InMessage.NOT_SIMPLE) return false;
        int capCount = listCount[0];
        int id = m.getInt(call, 0);
        long interfaceId = m.getLong(call, RpcSchema.CALL_IFACE_LONG);
        int methodId = m.getShort(call, RpcSchema.CALL_METHOD_SHORT) & 0xffff;
        short sendTo = m.getShort(call, RpcSchema.CALL_SEND_TO_SHORT);
        StructIn paramsView = m.viewAtDepth(params, 3);
        NetworkCall ready = null;
        synchronized (lock) {
            Answer answer = newAnswer(id, interfaceId, methodId, sendTo, m);
            if (answer != null) {
                Capability targetCap = importedTarget(m.getInt(target, 0));
                Capability[] caps;
                try {
                    caps = readCapTable(m, table, capCount);
                } catch (RuntimeException e) {
                    targetCap.close();
                    throw e;
                }
                ready = new NetworkCall(answer, interfaceId, methodId, paramsView, caps, targetCap, m);
            }
        }
        if (ready != null) ready.deliver();
        flushLater();
        return true;
    }

    /**
     * A Return with results whose envelope is read in place, as {@link #handleReturn} does it with views;
     * false (nothing read or taken) for other kinds of Return and envelopes not laid out in near pointers.
     */
    private boolean handleReturnInPlace(InMessage m) {
        long ret = m.structField(m.rootStruct(), 0);
        if (ret == InMessage.NOT_SIMPLE || ret == 0 || m.getShort(ret, RpcSchema.RETURN_TAG_SHORT) != RpcSchema.RET_RESULTS) return false;
        long payload = m.structField(ret, 0);
        if (payload == InMessage.NOT_SIMPLE || payload == 0) return false;
        long content = m.structField(payload, 0);   // a capability (the bootstrap's) takes the views' way
        if (content == InMessage.NOT_SIMPLE || content == 0) return false;
        long table = simpleCapTable(m, payload);
        if (table == InMessage.NOT_SIMPLE) return false;
        int capCount = listCount[0];
        int id = m.getInt(ret, 0);
        boolean releaseParamCaps = !m.getBool(ret, RpcSchema.RETURN_RELEASE_PARAM_CAPS_BIT);
        StructIn results = m.viewAtDepth(content, 3);
        PendingCall pending;
        List<Runnable> later;
        synchronized (lock) {
            pending = returnedQuestion(id, releaseParamCaps);
            pending.completeWithResults(results, readCapTable(m, table, capCount), m);
            // Results are in and pipelined calls now go to the imported capabilities: the question is done.
            if (!pending.finishSent) enqueueSmall(RpcSchema.FINISH, SmallMessage.finish(id));
            questions.remove(id);
            later = takeAfterUnlock();   // e.g. a forwarded call answered with these results
        }
        runAll(later);
        if (!pending.hasWaiter()) flushLater();
        return true;
    }

    /** A Call, in {@code message}: the call it becomes releases the message once answered. */
    private void handleCall(StructIn call, InMessage message) {
        int id = call.getInt(0);
        long interfaceId = call.getLong(RpcSchema.CALL_IFACE_LONG);
        int methodId = call.getShort(RpcSchema.CALL_METHOD_SHORT) & 0xffff;
        short sendTo = call.getShort(RpcSchema.CALL_SEND_TO_SHORT);
        StructIn target = call.getStruct(RpcSchema.CALL_TARGET);
        StructIn payload = call.getStruct(RpcSchema.CALL_PARAMS);
        NetworkCall ready = null;
        synchronized (lock) {
            Answer answer = newAnswer(id, interfaceId, methodId, sendTo, message);
            if (answer != null) ready = takeCall(answer, interfaceId, methodId, target, payload, message);
        }
        if (ready != null) ready.deliver();
        flushLater();
    }

    /**
     * The answer to the call of question {@code id}, in the table (marked redirected for sendResultsTo.yourself);
     * null when the call asks for its results to go to a third party (it is answered with an exception at once and {@code message} released). Under the lock.
     */
    private Answer newAnswer(int id, long interfaceId, int methodId, short sendTo, InMessage message) {
        if (answers.containsKey(id)) throw new MalformedMessageException("question id " + id + " is in use");
        Answer answer = new Answer(id);
        answers.put(id, answer);
        if (sendTo == RpcSchema.SEND_TO_CALLER) return answer;
        if (sendTo == RpcSchema.SEND_TO_YOURSELF) {
            // The peer forwarded to us a call we made (a tail call) and takes the results from this answer for
            // that call (Return.takeFromOtherQuestion): they stay here.
            answer.redirected = true;
            return answer;
        }
        new NetworkCall(answer, interfaceId, methodId, null, NO_CAPS, null, null).returnException(
                new RpcException(RpcException.Type.UNIMPLEMENTED, "results can only be sent to the caller or kept"));
        message.release();
        return null;
    }

    /**
     * Takes everything an incoming call names, now: a later Finish of a question it names must not take it
     * away, and a malformed reference is found while the message is at hand. Returns the call if it is
     * ready, or parks it on the first answer it waits for (then null). Under the lock.
     */
    private NetworkCall takeCall(Answer answer, long interfaceId, int methodId, StructIn target, StructIn payload, InMessage message) {
        StructIn params = payload.getStruct(0);
        Capability targetCap = null;
        CapRef targetWait = null;
        short targetTag = target.getShort(RpcSchema.TARGET_TAG_SHORT);
        if (targetTag == RpcSchema.TARGET_IMPORTED) {
            targetCap = importedTarget(target.getInt(0));
        } else if (targetTag == RpcSchema.TARGET_PROMISED) {
            CapRef ref = answerRef(target.getStruct(0));
            if (ref.waiting()) targetWait = ref;
            else targetCap = resolve(ref);
        } else {
            throw new MalformedMessageException("unknown message target " + targetTag);
        }
        Capability[] caps = NO_CAPS;
        CapRef[] capWaits = null;   // for the capabilities of answers not in yet; made only for those
        try {
            if (payload.hasPointer(1)) {
                StructList.Reader<StructIn> capTable = payload.getList(CAP_LIST, 1);
                int count = capTable.size();
                caps = count == 0 ? NO_CAPS : new Capability[count];
                for (int i = 0; i < count; i++) {
                    StructIn descriptor = capTable.get(i);
                    if (descriptor.getShort(0) == RpcSchema.CAP_RECEIVER_ANSWER) {
                        CapRef ref = answerRef(descriptor.getStruct(0));
                        if (ref.waiting()) {
                            if (capWaits == null) capWaits = new CapRef[count];
                            capWaits[i] = ref;
                        } else {
                            caps[i] = resolve(ref);
                        }
                    } else {
                        caps[i] = readCapDescriptor(descriptor);
                    }
                }
            }
        } catch (RuntimeException e) {
            // A malformed descriptor: what was taken before it is let go.
            if (targetCap != null) targetCap.close();
            for (Capability cap : caps) if (cap != null) cap.close();
            throw e;
        }
        if (targetWait == null && capWaits == null) {
            return new NetworkCall(answer, interfaceId, methodId, params, caps, targetCap, message);
        }
        return new ParkedCall(answer, interfaceId, methodId, params, targetCap, targetWait, caps, capWaits, message).prepareOrPark(null);
    }

    /** A capability an incoming call names in one of our answers that is still being computed. */
    private static final class CapRef {
        final Answer answer;
        final short[] path;

        CapRef(Answer answer, short[] path) {
            this.answer = answer;
            this.path = path;
        }

        boolean waiting() {
            return !answer.returned || answer.delivering;
        }

        /** Waiting, unless for {@code ready}, whose parked calls are being handed out. */
        boolean waitingFor(Answer ready) {
            return waiting() && answer != ready;
        }
    }

    /**
     * A call waiting for answers it is pipelined on. Its references are held from the moment it arrived:
     * the capabilities taken then, and for the others ({@code targetWait}, the non-null {@code capWaits})
     * the answers and paths that will give them.
     */
    private final class ParkedCall {
        final Answer answer;
        final long interfaceId;
        final int methodId;
        final StructIn params;
        final Capability targetCap;
        final CapRef targetWait;
        final Capability[] caps;
        final CapRef[] capWaits;
        final InMessage message;

        ParkedCall(Answer answer, long interfaceId, int methodId, StructIn params, Capability targetCap, CapRef targetWait,
                   Capability[] caps, CapRef[] capWaits, InMessage message) {
            this.answer = answer;
            this.interfaceId = interfaceId;
            this.methodId = methodId;
            this.params = params;
            this.targetCap = targetCap;
            this.targetWait = targetWait;
            this.caps = caps;
            this.capWaits = capWaits;
            this.message = message;
        }

        /** Lets go of the capabilities taken when the call arrived. Under the lock. */
        void drop() {
            if (targetCap != null) targetCap.close();
            for (Capability cap : caps) if (cap != null) cap.close();
        }

        /**
         * The call, ready to deliver, or parked on the first answer it still waits for (then null). Answers
         * being handed out count as returned only if they are {@code ready}. Under the lock.
         */
        NetworkCall prepareOrPark(Answer ready) {
            if (targetWait != null && targetWait.waitingFor(ready)) {
                targetWait.answer.park(this);
                return null;
            }
            if (capWaits != null) {
                for (CapRef ref : capWaits) {
                    if (ref != null && ref.waitingFor(ready)) {
                        ref.answer.park(this);
                        return null;
                    }
                }
                for (int i = 0; i < caps.length; i++) if (capWaits[i] != null) caps[i] = resolve(capWaits[i]);
            }
            Capability target = targetWait != null ? resolve(targetWait) : targetCap;
            return new NetworkCall(answer, interfaceId, methodId, params, caps, target, message);
        }
    }

    /** The capability a returned answer's results hold at {@code path}, as a new handle. Under the lock. */
    private Capability resolve(CapRef ref) {
        Answer answer = ref.answer;
        if (answer.error != null) return new BrokenCap(answer.error);
        StructIn payload = answer.payload();
        // An answer finished and forgotten (a call still parked on another answer named it) holds nothing.
        if (payload == null) return new BrokenCap(new RpcException(RpcException.Type.FAILED, "pipelined capability is null"));
        int index;
        try {
            index = PendingCall.walk(payload, ref.path);
        } catch (RuntimeException e) {
            return new BrokenCap(new RpcException(RpcException.Type.FAILED, "pipeline path names no capability"));
        }
        if (index < 0 || index >= answer.resultCaps.length || answer.resultCaps[index] == null) {
            return new BrokenCap(new RpcException(RpcException.Type.FAILED, "pipelined capability is null"));
        }
        Capability cap = answer.resultCaps[index];
        return cap instanceof LocalCap local ? heldCap(local.server) : cap.dup();
    }

    /**
     * A handle on an object of ours that keeps its export alive (as C++ reference counts do) until the handle
     * is closed, even if the peer releases it meanwhile. Under the lock.
     */
    private LocalCap heldCap(Server server) {
        ExportEntry entry = exportsByServer.get(server);
        if (entry == null) return new LocalCap(server);
        entry.holds++;
        return new LocalCap(server, entry);
    }

    /** Tells the object it was released once neither the peer nor a call of ours holds it. Under the lock. */
    private void maybeReleased(ExportEntry export) {
        if (export.refs > 0 || export.holds > 0 || export.releasedCalled) return;
        export.releasedCalled = true;
        lingering.remove(export);
        export.server.released(export.owned);
        // Gone from the tables, held by no open handle: kept for the next export.
        if (!closed && exports.get(export.id) != export && spareExportCount < MAX_SPARE_ENTRIES) {
            export.server = null;
            spareExports[spareExportCount++] = export;
        }
    }

    /** The export a message target names (a new handle), or a broken capability. Under the lock. */
    private Capability importedTarget(int exportId) {
        ExportEntry export = exports.get(exportId);
        if (export == null) {
            return new BrokenCap(new RpcException(RpcException.Type.FAILED, "call to capability "
                    + Integer.toUnsignedString(exportId) + " that was never exported or was released"));
        }
        return heldCap(export.server);
    }

    /** The capability a target names, ready now (a new handle). Under the lock. */
    private Capability resolveTarget(StructIn target) {
        short tag = target.getShort(RpcSchema.TARGET_TAG_SHORT);
        if (tag == RpcSchema.TARGET_IMPORTED) return importedTarget(target.getInt(0));
        if (tag != RpcSchema.TARGET_PROMISED) throw new MalformedMessageException("unknown message target " + tag);
        CapRef ref = answerRef(target.getStruct(0));
        if (ref.waiting()) return new BrokenCap(new RpcException(RpcException.Type.FAILED, "the answer is not in yet"));
        return resolve(ref);
    }

    /** A reference to one of our answers, by a PromisedAnswer; its transform is checked now. Under the lock. */
    private CapRef answerRef(StructIn promised) {
        Answer answer = answers.get(promised.getInt(0));
        if (answer == null) throw new MalformedMessageException("pipelined on unknown question " + Integer.toUnsignedString(promised.getInt(0)));
        StructList.Reader<StructIn> ops = promised.getList(OP_LIST, 0);
        short[] path = new short[ops.size()];
        int n = 0;
        for (int i = 0; i < ops.size(); i++) {
            StructIn op = ops.get(i);
            short tag = op.getShort(0);
            if (tag == RpcSchema.OP_GET_POINTER_FIELD) path[n++] = op.getShort(1);
            else if (tag != RpcSchema.OP_NOOP) throw new MalformedMessageException("unknown transform op " + tag);
        }
        return new CapRef(answer, n == path.length ? path : java.util.Arrays.copyOf(path, n));
    }

    /** A capability the peer described; the new handle belongs to the caller. Under the lock. */
    private Capability readCapDescriptor(StructIn descriptor) {
        return readCapDescriptor(descriptor.getShort(0), descriptor.getInt(RpcSchema.CAPDESC_ID_INT), descriptor);
    }

    /**
     * A capability the peer described by {@code tag} and {@code id}; {@code descriptor} is read only for a
     * receiverAnswer (may be null for the other kinds). The new handle belongs to the caller. Under the lock.
     */
    private Capability readCapDescriptor(short tag, int id, StructIn descriptor) {
        switch (tag) {
            case RpcSchema.CAP_NONE:
                return null;
            case RpcSchema.CAP_SENDER_HOSTED:
            case RpcSchema.CAP_SENDER_PROMISE: {
                ImportEntry entry = imports.get(id);
                if (entry == null) {
                    entry = newImportEntry(id);
                    imports.put(id, entry);
                }
                entry.remoteRefs++;
                entry.localHandles++;
                return new ImportCap(entry);
            }
            case RpcSchema.CAP_RECEIVER_HOSTED: {
                ExportEntry export = exports.get(id);
                if (export == null) {
                    return new BrokenCap(new RpcException(RpcException.Type.FAILED,
                            "capability " + Integer.toUnsignedString(id) + " was never exported or was released"));
                }
                return heldCap(export.server);
            }
            case RpcSchema.CAP_RECEIVER_ANSWER: {
                CapRef ref = answerRef(descriptor.getStruct(0));
                return ref.waiting()
                        ? new BrokenCap(new RpcException(RpcException.Type.FAILED, "capability of an answer not in yet"))
                        : resolve(ref);
            }
            case RpcSchema.CAP_THIRD_PARTY:
                return new BrokenCap(new RpcException(RpcException.Type.UNIMPLEMENTED, "third-party capabilities are not supported"));
            default:
                throw new MalformedMessageException("unknown capability descriptor " + tag);
        }
    }

    /**
     * The question a Return answers, its parameters' exports released if the Return says so. Under the lock.
     */
    private PendingCall returnedQuestion(int id, boolean releaseParamCaps) {
        PendingCall pending = questions.get(id);
        if (pending == null) throw new MalformedMessageException("return for unknown question " + id);
        if (releaseParamCaps) {
            for (int i = 0; i < pending.paramExportCount(); i++) releaseExport(pending.paramExport(i), 1);
        }
        return pending;
    }

    /** A Return, in {@code message}: results go to the pending call, which releases the message once they are read. */
    private void handleReturn(StructIn ret, InMessage message) {
        int id = ret.getInt(0);
        boolean releaseParamCaps = !ret.getBool(RpcSchema.RETURN_RELEASE_PARAM_CAPS_BIT);
        short tag = ret.getShort(RpcSchema.RETURN_TAG_SHORT);
        PendingCall pending;
        List<Runnable> later;
        synchronized (lock) {
            pending = returnedQuestion(id, releaseParamCaps);
            boolean settled = true;
            switch (tag) {
                case RpcSchema.RET_RESULTS -> {
                    StructIn payload = ret.getStruct(0);
                    Capability[] caps = NO_CAPS;
                    if (payload.hasPointer(1)) {
                        StructList.Reader<StructIn> table = payload.getList(CAP_LIST, 1);
                        if (table.size() > 0) caps = new Capability[table.size()];
                        for (int i = 0; i < caps.length; i++) caps[i] = readCapDescriptor(table.get(i));
                    }
                    pending.complete(payload, caps, message);
                    message = null;
                }
                case RpcSchema.RET_EXCEPTION -> pending.fail(readException(ret.getStruct(0)));
                case RpcSchema.RET_CANCELED -> pending.fail(new RpcException(RpcException.Type.FAILED, "call canceled"));
                case RpcSchema.RET_TAKE_FROM_OTHER -> settled = takeFromOtherQuestion(pending, ret.getInt(RpcSchema.RETURN_TAKE_FROM_INT));
                case RpcSchema.RET_SENT_ELSEWHERE ->
                        throw new MalformedMessageException("resultsSentElsewhere for question " + id + ", whose results were asked for");
                default -> pending.fail(new RpcException(RpcException.Type.UNIMPLEMENTED, "unsupported kind of return " + tag));
            }
            if (settled) {
                // Results are in and pipelined calls now go to the imported capabilities: the question is done.
                if (!pending.finishSent) enqueueSmall(RpcSchema.FINISH, SmallMessage.finish(id));
                questions.remove(id);
            }
            later = takeAfterUnlock();
        }
        if (message != null) message.release();
        runAll(later);
        if (!pending.hasWaiter()) flushLater();
    }

    /**
     * Return.takeFromOtherQuestion: the results of question {@code pending} are those of our answer
     * {@code answerId}, a call the peer forwarded back to us with sendResultsTo.yourself (the peer's tail
     * call). True if they are in; else the question is settled (and finished) when that answer returns, the
     * Finish held back until then: a Finish lets the peer finish the forwarded call, which would cancel it.
     * Under the lock.
     */
    private boolean takeFromOtherQuestion(PendingCall pending, int answerId) {
        Answer source = answers.get(answerId);
        if (source == null || !source.redirected || source.taker != null || source.taken) {
            throw new MalformedMessageException("takeFromOtherQuestion names " + Integer.toUnsignedString(answerId)
                    + ", no call whose results were kept for it");
        }
        source.taken = true;
        if (source.returned) {
            settleTaken(source, pending);
            return true;
        }
        source.taker = pending;
        if (pending.finishSent) {
            // We gave up on the question before this Return came: nobody waits for the call any more.
            List<Runnable> cancels = cancelForTaker(source);
            if (cancels != null) for (Runnable action : cancels) runAfterUnlock(action);
        }
        return false;
    }

    /**
     * Cancels {@code answer}, a call forwarded back to us whose results only our canceled question was to
     * take; returns its cancel actions (to run once the lock is let go), or null. Under the lock.
     */
    private static List<Runnable> cancelForTaker(Answer answer) {
        if (answer.returned || answer.canceled) return null;
        answer.canceled = true;
        List<Runnable> cancels = new ArrayList<>(2);
        answer.moveCancelActionsTo(cancels);
        return cancels;
    }

    /** Gives the results of the kept answer {@code source} to {@code taker}, a question of ours. Under the lock. */
    private void settleTaken(Answer source, PendingCall taker) {
        if (source.error != null) {
            taker.fail(source.error);
            return;
        }
        StructIn payload = source.payload();
        if (payload == null) {   // canceled by the peer and forgotten meanwhile
            taker.fail(new RpcException(RpcException.Type.FAILED, "the results taken were released"));
            return;
        }
        Capability[] caps = source.resultCaps.length == 0 ? NO_CAPS : new Capability[source.resultCaps.length];
        for (int i = 0; i < caps.length; i++) {
            Capability cap = source.resultCaps[i];
            caps[i] = cap == null ? null : cap instanceof LocalCap local ? heldCap(local.server) : cap.dup();
        }
        taker.complete(payload, caps, null);
    }

    /** The question waiting for the kept answer {@code source}, which returned, is settled and finished. Under the lock. */
    private void settleTaker(Answer source) {
        PendingCall taker = source.taker;
        if (taker == null) return;
        source.taker = null;
        settleTaken(source, taker);
        if (!taker.finishSent) enqueueSmall(RpcSchema.FINISH, SmallMessage.finish(taker.questionId));
        if (questions.get(taker.questionId) == taker) questions.remove(taker.questionId);
    }

    /**
     * Our question {@code pending} is given up (the call we forwarded it for was canceled): the peer gets its
     * Finish now, and the results, if they still come, are released.
     */
    void cancelQuestion(PendingCall pending) {
        List<Runnable> cancels = null;
        synchronized (lock) {
            if (closed || pending.finishSent || questions.get(pending.questionId) != pending) return;
            pending.finishSent = true;
            enqueueSmall(RpcSchema.FINISH, SmallMessage.finish(pending.questionId));
            // Its results were to be taken from a call the peer forwarded back to us (a tail call, which the
            // peer does not cancel once it returned): that call runs for nobody now, so it is canceled here.
            for (Answer answer : answers.values()) {
                if (answer.taker == pending) cancels = cancelForTaker(answer);
            }
        }
        flush();
        runAll(cancels);
    }

    /** Runs {@code action} once the lock, which this thread holds, is let go. Under the lock. */
    private void runAfterUnlock(Runnable action) {
        if (afterUnlock == null) afterUnlock = new ArrayList<>(1);
        afterUnlock.add(action);
    }

    /** Under the lock. */
    private List<Runnable> takeAfterUnlock() {
        List<Runnable> actions = afterUnlock;
        afterUnlock = null;
        return actions;
    }

    private static void runAll(List<Runnable> actions) {
        if (actions != null) for (Runnable action : actions) action.run();
    }

    private static RpcException readException(StructIn exception) {
        int type = exception.getShort(RpcSchema.EXCEPTION_TYPE_SHORT);
        RpcException.Type[] types = RpcException.Type.values();
        return new RpcException(type >= 0 && type < types.length ? types[type] : RpcException.Type.FAILED, exception.getText(0));
    }

    private void handleFinish(StructIn finish) {
        handleFinish(finish.getInt(0), !finish.getBool(RpcSchema.FINISH_RELEASE_RESULT_CAPS_BIT));
    }

    private void handleFinish(int id, boolean releaseResultCaps) {
        List<Runnable> cancels = null;
        synchronized (lock) {
            Answer answer = answers.get(id);
            if (answer == null) throw new MalformedMessageException("finish for unknown question " + id);
            answer.finished = true;
            answer.releaseResultCaps = releaseResultCaps;
            if (answer.returned) {
                removeAnswer(answer);
            } else {
                answer.canceled = true;
                cancels = new ArrayList<>(2);
                answer.moveCancelActionsTo(cancels);
            }
        }
        if (cancels != null) for (Runnable action : cancels) action.run();
        flushLater();
    }

    /** Forgets an answer that was returned and finished. Under the lock. */
    private void removeAnswer(Answer answer) {
        answers.remove(answer.id);
        if (answer.releaseResultCaps) for (int export : answer.resultExports) releaseExport(export, 1);
        for (Capability cap : answer.resultCaps) if (cap != null) cap.close();
        answer.resultCaps = NO_CAPS;
        answer.removed = true;
        if (answer.returnWritten) recycleReturn(answer);
    }

    private void handleRelease(StructIn release) {
        handleRelease(release.getInt(0), release.getInt(1));
    }

    private void handleRelease(int id, int count) {
        synchronized (lock) {
            if (exports.get(id) == null) throw new MalformedMessageException("release of unknown capability " + id);
            releaseExport(id, count);
        }
    }

    /** Drops {@code count} of the peer's references to an export. Under the lock. */
    private void releaseExport(int id, int count) {
        ExportEntry export = exports.get(id);
        if (export == null) return;
        export.refs -= Integer.toUnsignedLong(count);
        if (export.refs > 0) return;
        exports.remove(id);
        exportsByServer.remove(export.server);
        if (export.holds > 0) lingering.add(export);
        // Under the lock: the release order must stay the order of the messages.
        maybeReleased(export);
    }

    private void handleResolve(StructIn resolve) {
        // We keep calling the promise; the peer forwards calls to what it resolved to. A capability in the
        // resolution still counts as received, so its reference is handed back at once.
        if (resolve.getShort(RpcSchema.RESOLVE_TAG_SHORT) == RpcSchema.RESOLVE_CAP) {
            Capability cap;
            synchronized (lock) {
                cap = readCapDescriptor(resolve.getStruct(0));
            }
            if (cap != null) cap.close();
            flushLater();
        }
    }

    private void handleDisembargo(StructIn disembargo) {
        short tag = disembargo.getShort(RpcSchema.DISEMBARGO_TAG_SHORT);
        int embargoId = disembargo.getInt(0);
        if (tag == RpcSchema.DIS_SENDER_LOOPBACK) {
            synchronized (lock) {
                Capability cap = resolveTarget(disembargo.getStruct(0));
                try {
                    if (!(cap instanceof ImportCap imported)) {
                        throw new MalformedMessageException("disembargo target does not point back to the sender");
                    }
                    StructOut out = Messages.newMessage(RpcSchema.DISEMBARGO, RpcSchema.DISEMBARGO_WORDS, RpcSchema.DISEMBARGO_PTRS,
                            RpcSchema.TARGET_WORDS + RpcSchema.TARGET_PTRS);
                    StructOut target = out.initStruct(0, RpcSchema.TARGET_WORDS, RpcSchema.TARGET_PTRS);
                    target.setShort(RpcSchema.TARGET_TAG_SHORT, RpcSchema.TARGET_IMPORTED);
                    target.setInt(0, imported.entry.id);
                    out.setShort(RpcSchema.DISEMBARGO_TAG_SHORT, RpcSchema.DIS_RECEIVER_LOOPBACK);
                    out.setInt(0, embargoId);
                    enqueue(out);
                } finally {
                    cap.close();
                }
            }
            flushLater();
        } else if (tag == RpcSchema.DIS_RECEIVER_LOOPBACK) {
            PromiseState promise;
            synchronized (lock) {
                promise = embargoes.remove(embargoId);
                if (promise == null) throw new MalformedMessageException("unknown embargo " + embargoId);
            }
            promise.liftEmbargo();
        } else {
            throw new MalformedMessageException("unsupported disembargo kind " + tag);
        }
    }

    private void handleUnimplemented(StructIn original) {
        short tag = original.getShort(0);
        if (tag == RpcSchema.CALL || tag == RpcSchema.BOOTSTRAP) {
            int id = original.getStruct(0).getInt(0);
            PendingCall pending;
            synchronized (lock) {
                pending = questions.remove(id);
                if (pending == null) return;
            }
            pending.fail(new RpcException(RpcException.Type.UNIMPLEMENTED, "the peer does not implement this call"));
        }
    }

    private void replyUnimplemented(StructIn original) {
        StructOut root = Messages.startRoot(Messages.newArena(64));
        root.setShort(0, RpcSchema.UNIMPLEMENTED);
        try {
            root.setStruct(0, original);
        } catch (RuntimeException | AssertionError e) {
            throw new MalformedMessageException("unknown message kind " + original.getShort(0)
                    + " that cannot be echoed back: " + e.getMessage());
        }
        synchronized (lock) {
            enqueue(root);
        }
        flushLater();
    }

    // ---------------------------------------------------------------- sending calls

    /** Sends {@code call} to an import or to a promised answer of this connection. */
    private PendingCall sendCall(OutgoingCall call, ImportEntry importTarget, int questionTarget, short[] path) {
        PendingCall pending = new PendingCall(this);
        synchronized (lock) {
            if (closed) {
                call.closeCaps();
                pending.fail(closeReason);
                return pending;
            }
            int id = questions.add(pending);
            pending.questionId = id;
            call.setQuestionId(id);
            if (importTarget != null) {
                call.targetImport(importTarget.id);
            } else {
                writePromisedAnswer(call.targetPromised().initStruct(0, RpcSchema.PROMISED_WORDS, RpcSchema.PROMISED_PTRS), questionTarget, path);
            }
            try {
                writeCapTable(call, pending);
            } catch (RuntimeException e) {
                pending.clearParamExports();
                questions.remove(id);
                call.closeCaps();
                throw e;
            }
            call.closeCaps();
            enqueueCall(call);
        }
        flush();
        return pending;
    }

    private static void writePromisedAnswer(StructOut promised, int questionId, short[] path) {
        promised.setInt(0, questionId);
        if (path.length > 0) {
            StructList.Builder<StructOut> ops = promised.initList(OP_LIST, 0, path.length);
            for (int i = 0; i < path.length; i++) {
                StructOut op = ops.get(i);
                op.setShort(0, RpcSchema.OP_GET_POINTER_FIELD);
                op.setShort(1, path[i]);
            }
        }
    }

    /**
     * Writes the capability table of a call's parameters and notes in {@code pending} the export ids it
     * references. Under the lock.
     */
    private void writeCapTable(OutgoingCall call, PendingCall pending) {
        int count = call.capCount();
        if (count == 0) return;
        int element = Messages.structListRaw(call.message, OutgoingCall.CAP_TABLE_POINTER, count, RpcSchema.CAPDESC_WORDS, RpcSchema.CAPDESC_PTRS);
        if (element >= 0) {
            SegmentBuilder segment = call.message.getSegment(0);
            for (int i = 0; i < count; i++) {
                int export = writeCapDescriptor(segment, element + i * (RpcSchema.CAPDESC_WORDS + RpcSchema.CAPDESC_PTRS), call.cap(i), false);
                if (export >= 0) pending.addParamExport(export);
            }
        } else {
            StructList.Builder<StructOut> table = call.payload().initList(CAP_LIST, 1, count);
            for (int i = 0; i < count; i++) {
                int export = writeCapDescriptor(table.get(i), call.cap(i), false);
                if (export >= 0) pending.addParamExport(export);
            }
        }
    }

    /** Describes {@code cap} to the peer; returns the export id if it was exported. Under the lock. */
    private int writeCapDescriptor(StructOut descriptor, Capability cap, boolean owned) {
        return writeCapDescriptor(descriptor.segmentBuilder(), descriptor.dataWord(), cap, owned);
    }

    /**
     * Describes {@code cap} in the CapDescriptor at word {@code at} of {@code segment}; returns the export id
     * if it was exported. Under the lock.
     */
    private int writeCapDescriptor(SegmentBuilder segment, int at, Capability cap, boolean owned) {
        if (cap == null) {
            writeDescriptor(segment, at, RpcSchema.CAP_NONE, 0);
            return -1;
        } else if (cap instanceof LocalCap local) {
            return exportSenderHosted(segment, at, local.server, owned);
        } else if (cap instanceof BrokenCap broken) {
            return exportSenderHosted(segment, at, new BrokenServer(broken.error), owned);
        } else if (cap instanceof ImportCap imported && imported.connection() == this) {
            if (imported.closed) throw new IllegalStateException("a released capability cannot be passed");
            writeDescriptor(segment, at, RpcSchema.CAP_RECEIVER_HOSTED, imported.entry.id);
            return -1;
        } else if (cap instanceof PromiseCap promise && promise.connection() == this) {
            if (promise.resolution() != null) return writeCapDescriptor(segment, at, promise.resolution(), owned);
            StructOut descriptor = Messages.view(segment, at, RpcSchema.CAPDESC_WORDS, RpcSchema.CAPDESC_PTRS);
            descriptor.setShort(0, RpcSchema.CAP_RECEIVER_ANSWER);
            writePromisedAnswer(descriptor.initStruct(0, RpcSchema.PROMISED_WORDS, RpcSchema.PROMISED_PTRS),
                    promise.questionId, promise.path);
            return -1;
        } else if (cap instanceof ImportCap || cap instanceof PromiseCap) {
            // Another connection's: exported as an object of ours that forwards every call to it.
            return exportSenderHosted(segment, at, new ForwardingServer(cap.dup()), owned);
        }
        throw new IllegalArgumentException("a capability of another connection cannot be passed on this one");
    }

    /** A CapDescriptor's tag and id (its one data word). */
    private static void writeDescriptor(SegmentBuilder segment, int at, short tag, int id) {
        segment.buffer.putShort(8 * at, tag);
        segment.buffer.putInt(8 * at + 4 * RpcSchema.CAPDESC_ID_INT, id);
    }

    private int exportSenderHosted(SegmentBuilder segment, int at, Server server, boolean owned) {
        ExportEntry export = exportsByServer.get(server);
        if (export == null) {
            export = newExportEntry(server);
            export.id = exports.add(export);
            exportsByServer.put(server, export);
        }
        export.refs++;
        export.owned |= owned;
        writeDescriptor(segment, at, RpcSchema.CAP_SENDER_HOSTED, export.id);
        return export.id;
    }

    Capability promiseCap(PendingCall call, short[] path) {
        synchronized (lock) {
            if (questions.get(call.questionId) == call) return new PromiseCap(call, call.questionId, path);
            // Closing cleared the questions before it fails their calls: this one fails for the same reason.
            if (closed && !call.isDone()) return new BrokenCap(closeReason);
        }
        // The question is gone: the answer is in.
        return call.resultCap(path);
    }

    // ---------------------------------------------------------------- ending

    private void shutdown(RpcException reason, String abortReason) {
        // On the reader (ending, or closed by code it runs): what it woke is unparked, and what it wakes from now.
        if (Thread.currentThread() == reader) Waiter.endDeferral();
        List<PendingCall> failed = new ArrayList<>();
        List<Runnable> cancels = new ArrayList<>();
        List<ExportEntry> released;
        List<PromiseState> embargoed;
        synchronized (lock) {
            if (closed) return;
            if (abortReason != null) {
                StructOut abort = Messages.newMessage(RpcSchema.ABORT, RpcSchema.EXCEPTION_WORDS, RpcSchema.EXCEPTION_PTRS,
                        (abortReason.length() + 8) / 8);
                abort.setText(0, abortReason);
                outbound.add(abort.arena());
            }
            closed = true;
            closeReason = reason;
            for (int i = 0; i < questions.size(); i++) {
                PendingCall question = questions.get(i);
                if (question != null) failed.add(question);
            }
            questions.clear();
            List<Answer> allAnswers = answers.values();
            List<ParkedCall> neverRun = new ArrayList<>();
            for (Answer answer : allAnswers) {
                if (answer.waiting != null) neverRun.addAll(answer.waiting);
                answer.waiting = null;
            }
            // Calls still waiting for an answer never run: what they hold is let go now.
            for (ParkedCall parked : neverRun) parked.drop();
            for (Answer answer : allAnswers) {
                answer.canceled = true;
                answer.moveCancelActionsTo(cancels);
                for (Capability cap : answer.resultCaps) if (cap != null) cap.close();
            }
            answers.clear();
            for (ImportEntry entry : imports.values()) entry.localHandles = 0;
            imports.clear();
            // Objects that running calls still use are released when those calls end.
            released = new ArrayList<>();
            for (ExportEntry export : exportsByServer.values()) {
                export.refs = 0;
                if (export.holds > 0) lingering.add(export);
                else released.add(export);
            }
            for (ExportEntry export : released) export.releasedCalled = true;
            released.sort((a, b) -> Long.compare(b.sequence, a.sequence));  // newest first
            exports.clear();
            exportsByServer.clear();
            embargoed = new ArrayList<>(embargoes.values());
            embargoes.clear();
            lock.notifyAll();
        }
        writeRemainingThenClose();
        for (PendingCall call : failed) call.fail(reason);
        for (Runnable cancel : cancels) runQuietly(cancel);
        for (ExportEntry export : released) runQuietly(() -> export.server.released(export.owned));
        for (PromiseState promise : embargoed) promise.liftEmbargo();
        finished.countDown();
        for (Runnable listener : disconnectListeners) {
            if (disconnectListeners.remove(listener)) runQuietly(listener);
        }
    }

    /**
     * Writes what is still queued (answers, releases, the Abort that says why) and closes the stream: after
     * the writer in progress, if any, and never blocking for more than a second on a peer that does not read.
     */
    private void writeRemainingThenClose() {
        synchronized (lock) {
            if (outbound.isEmpty() && !writing) {
                closeStream();
                return;
            }
        }
        Thread last = new Thread(() -> {
            Outbox batch = new Outbox();
            synchronized (lock) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
                while (writing) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) return;
                    try {
                        TimeUnit.NANOSECONDS.timedWait(lock, left);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                writing = true;
                batch.addAll(outbound);
                outbound.clear();
            }
            try {
                frame(batch);
                frameWriter.writeTo(stream);
            } catch (IOException | RuntimeException ignored) {
                // The peer is gone or not reading: these last messages were best effort.
            } finally {
                synchronized (lock) {
                    writing = false;
                    lock.notifyAll();
                }
            }
        }, "capnp-last-write-" + name);
        last.setDaemon(true);
        last.start();
        try {
            last.join(1500);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeStream();
    }

    private void closeStream() {
        try {
            stream.close();
        } catch (IOException ignored) {
            // Nothing more to do with a stream that failed to close.
        }
    }

    private static void runQuietly(Runnable action) {
        try {
            action.run();
        } catch (RuntimeException e) {
            // One object's cleanup failing must not stop the others'.
        }
    }

    private static String tagName(short tag) {
        return switch (tag) {
            case RpcSchema.UNIMPLEMENTED -> "unimplemented";
            case RpcSchema.ABORT -> "abort";
            case RpcSchema.CALL -> "call";
            case RpcSchema.RETURN -> "return";
            case RpcSchema.FINISH -> "finish";
            case RpcSchema.RESOLVE -> "resolve";
            case RpcSchema.RELEASE -> "release";
            case RpcSchema.BOOTSTRAP -> "bootstrap";
            case RpcSchema.DISEMBARGO -> "disembargo";
            default -> "message " + tag;
        };
    }

    /** Test hook: table sizes (questions, answers, imports, exports). */
    public int[] tableSizes() {
        synchronized (lock) {
            return new int[] {questions.count(), answers.size(), imports.size(), exports.count()};
        }
    }

    // ---------------------------------------------------------------- table entries

    private static final class Answer {
        final int id;
        boolean returned;
        boolean delivering;     // returned, its parked calls being handed out, its Return held back
        boolean finished;
        boolean canceled;
        boolean releaseResultCaps;
        boolean redirected;          // sendResultsTo.yourself: results kept here, the Return says resultsSentElsewhere
        boolean taken;               // a takeFromOtherQuestion named it
        PendingCall taker;           // our question that takes its results once it returns
        BuilderArena returnMessage;  // the Return, once returned; reused once written and removed
        StructOut returnedPayload;   // its payload (results and capability table), or null and then
        int returnedPayloadWord = -1;  // where it is in the Return's first segment (-1: no payload)
        boolean returnWritten;
        boolean removed;             // finished and returned: gone from the table
        Capability[] resultCaps = NO_CAPS;
        int[] resultExports = NO_IDS;
        RpcException error;
        List<ParkedCall> waiting;    // calls pipelined on this answer, parked until it returns; null for none
        Runnable cancelAction;       // the first action to run if the call is canceled (most calls have one)
        List<Runnable> moreCancelActions;

        Answer(int id) {
            this.id = id;
        }

        /** The results as the calls pipelined on them read them, or null once reused. Under the lock, once returned. */
        StructIn payload() {
            if (returnedPayload != null) return returnedPayload.asReader();
            if (returnedPayloadWord < 0 || returnMessage == null) return null;
            return Messages.view(returnMessage.getSegment(0), returnedPayloadWord, RpcSchema.PAYLOAD_WORDS, RpcSchema.PAYLOAD_PTRS).asReader();
        }

        /** Parks {@code call} until this answer returns. Under the lock. */
        void park(ParkedCall call) {
            if (waiting == null) waiting = new ArrayList<>(2);
            waiting.add(call);
        }

        /** Takes the calls parked on this answer, in arrival order. Under the lock. */
        List<ParkedCall> takeParked() {
            List<ParkedCall> parked = waiting == null ? List.of() : waiting;
            waiting = null;
            return parked;
        }

        /** Under the lock. */
        void addCancelAction(Runnable action) {
            if (cancelAction == null) {
                cancelAction = action;
            } else {
                if (moreCancelActions == null) moreCancelActions = new ArrayList<>(1);
                moreCancelActions.add(action);
            }
        }

        /** Moves the cancel actions, in the order they were added, to {@code out}. Under the lock. */
        void moveCancelActionsTo(List<Runnable> out) {
            if (cancelAction != null) out.add(cancelAction);
            if (moreCancelActions != null) out.addAll(moreCancelActions);
            cancelAction = null;
            moreCancelActions = null;
        }
    }

    private static final class ImportEntry {
        int id;
        long remoteRefs;
        int localHandles;

        ImportEntry(int id) {
            this.id = id;
        }
    }

    // Table entries that were let go, for reuse: every call with a context exports the caller's thread and
    // imports it on the other side, and releases it once answered. Guarded by the lock. An entry is kept only
    // once nothing can reach it but closed handles, which refuse any use.
    private static final int MAX_SPARE_ENTRIES = 16;
    private final ImportEntry[] spareImports = new ImportEntry[MAX_SPARE_ENTRIES];
    private int spareImportCount;
    private final ExportEntry[] spareExports = new ExportEntry[MAX_SPARE_ENTRIES];
    private int spareExportCount;

    /** A new import entry for {@code id}. Under the lock. */
    private ImportEntry newImportEntry(int id) {
        if (spareImportCount == 0) return new ImportEntry(id);
        ImportEntry entry = spareImports[--spareImportCount];
        spareImports[spareImportCount] = null;
        entry.id = id;
        entry.remoteRefs = 0;
        entry.localHandles = 0;
        return entry;
    }

    /** A new export entry for {@code server}. Under the lock. */
    private ExportEntry newExportEntry(Server server) {
        if (spareExportCount == 0) return new ExportEntry(server);
        ExportEntry entry = spareExports[--spareExportCount];
        spareExports[spareExportCount] = null;
        entry.reset(server);
        return entry;
    }

    private long exportSequence;  // guarded by the lock

    private final class ExportEntry implements LocalCap.Hold {
        Server server;
        long sequence;
        int id;
        long refs;
        int holds;
        boolean owned;
        boolean releasedCalled;

        @Override
        public void acquire() {
            synchronized (lock) {
                holds++;
            }
        }

        @Override
        public void release() {
            synchronized (lock) {
                holds--;
                maybeReleased(this);
            }
        }

        ExportEntry(Server server) {
            reset(server);
        }

        void reset(Server server) {
            this.server = server;
            this.sequence = exportSequence++;
            id = 0;
            refs = 0;
            holds = 0;
            owned = false;
            releasedCalled = false;
        }
    }

    /** What the peer gets for a capability of another connection we pass on: calls on it are forwarded there. */
    private record ForwardingServer(Capability target) implements Server {
        @Override
        public void dispatch(IncomingCall call) {
            if (call instanceof NetworkCall network) {
                network.forward(target);
            } else {
                call.returnException(new RpcException(RpcException.Type.FAILED, "a forwarding object is called through its connection"));
            }
        }

        @Override
        public void released(boolean owned) {
            target.close();
        }
    }

    /** What the peer gets for a broken capability we pass on: an object whose every call fails. */
    private record BrokenServer(RpcException error) implements Server {
        @Override
        public void dispatch(IncomingCall call) {
            call.returnException(error);
        }
    }

    // ---------------------------------------------------------------- capabilities of this connection

    /** A capability the peer hosts. */
    final class ImportCap extends Capability {
        final ImportEntry entry;
        private boolean closed;

        ImportCap(ImportEntry entry) {
            this.entry = entry;
        }

        @Override
        RpcConnection connection() {
            return RpcConnection.this;
        }

        @Override
        PendingCall send(OutgoingCall call) {
            synchronized (lock) {
                if (closed) throw new IllegalStateException("call on a released capability");
            }
            return sendCall(call, entry, 0, null);
        }

        @Override
        public Server localServer() {
            return null;
        }

        @Override
        public Capability dup() {
            synchronized (lock) {
                if (closed) throw new IllegalStateException("dup of a released capability");
                if (RpcConnection.this.closed) return new BrokenCap(closeReason);
                entry.localHandles++;
                return new ImportCap(entry);
            }
        }

        @Override
        public void close() {
            synchronized (lock) {
                if (closed) return;
                closed = true;
                if (RpcConnection.this.closed || --entry.localHandles > 0) return;
                if (imports.get(entry.id) == entry) imports.remove(entry.id);
                enqueueSmall(RpcSchema.RELEASE, SmallMessage.release(entry.id, (int) entry.remoteRefs));
                // No open handle is left (closed ones refuse any use): kept for the next import.
                if (spareImportCount < MAX_SPARE_ENTRIES) spareImports[spareImportCount++] = entry;
            }
            flush();
        }
    }

    /**
     * What every handle on one promised capability shares (handles made by {@link PromiseCap#dup()} are the
     * same reference, as in the C++ implementation): its resolution, and the embargo that keeps calls made
     * after the resolution behind those made before it. Guarded by the lock.
     */
    private final class PromiseState {
        final PendingCall call;
        final int questionId;
        final short[] path;
        Capability resolution;      // set when the answer is in; closed once no handle and no held call needs it
        int handles;
        int sentCalls;              // calls sent to the promise (through the peer) before it resolved
        boolean embargoed;
        List<Runnable> held;        // calls made while embargoed, in order

        PromiseState(PendingCall call, int questionId, short[] path) {
            this.call = call;
            this.questionId = questionId;
            this.path = path;
        }

        /** Starts following the answer, once the first handle holds this state. */
        void start() {
            call.markPipelined();
            call.whenDone(this::resolve);
        }

        private void resolve() {
            Capability result = call.resultCap(path);
            synchronized (lock) {
                if (handles == 0) {
                    result.close();
                    return;
                }
                resolution = result;
                // In two-party RPC a capability elsewhere than at the peer (ours, or another connection's) is
                // reached by calls made through the peer before the answer came back to us (the peer sends
                // them back), and directly by later ones: these must not overtake the others. The Disembargo
                // comes back from the peer after every call it sent back on this promise.
                boolean elsewhere = !(result instanceof BrokenCap) && result.connection() != RpcConnection.this;
                if (elsewhere && sentCalls > 0 && !RpcConnection.this.closed) {
                    embargoed = true;
                    int embargoId = nextEmbargo++;
                    embargoes.put(embargoId, this);
                    StructOut out = Messages.newMessage(RpcSchema.DISEMBARGO, RpcSchema.DISEMBARGO_WORDS, RpcSchema.DISEMBARGO_PTRS,
                            RpcSchema.TARGET_WORDS + RpcSchema.TARGET_PTRS + RpcSchema.PROMISED_WORDS + RpcSchema.PROMISED_PTRS
                                    + 1 + path.length);
                    StructOut target = out.initStruct(0, RpcSchema.TARGET_WORDS, RpcSchema.TARGET_PTRS);
                    target.setShort(RpcSchema.TARGET_TAG_SHORT, RpcSchema.TARGET_PROMISED);
                    writePromisedAnswer(target.initStruct(0, RpcSchema.PROMISED_WORDS, RpcSchema.PROMISED_PTRS), questionId, path);
                    out.setShort(RpcSchema.DISEMBARGO_TAG_SHORT, RpcSchema.DIS_SENDER_LOOPBACK);
                    out.setInt(0, embargoId);
                    enqueue(out);
                }
            }
        }

        /**
         * The Disembargo came back (or the connection ended): the held calls go to the resolution, in order.
         * Calls made meanwhile queue behind them until none is left; only then do calls go straight through.
         */
        void liftEmbargo() {
            while (true) {
                List<Runnable> release;
                Capability unused = null;
                synchronized (lock) {
                    release = held;
                    held = null;
                    if (release == null) {
                        embargoed = false;
                        if (handles == 0) {
                            unused = resolution;
                            resolution = null;
                        }
                    }
                }
                if (release == null) {
                    if (unused != null) unused.close();
                    return;
                }
                for (Runnable r : release) r.run();
            }
        }
    }

    /** A capability in the results of a call not answered yet: calls on it are pipelined. */
    final class PromiseCap extends Capability {
        final PromiseState state;
        final PendingCall call;
        final int questionId;
        final short[] path;
        private boolean closed;

        /** The first handle on the capability at {@code path} of the results of {@code call}. Under the lock. */
        PromiseCap(PendingCall call, int questionId, short[] path) {
            this(new PromiseState(call, questionId, path));
            state.start();
        }

        /** Another handle on {@code state}. Under the lock. */
        private PromiseCap(PromiseState state) {
            this.state = state;
            this.call = state.call;
            this.questionId = state.questionId;
            this.path = state.path;
            state.handles++;
        }

        @Override
        RpcConnection connection() {
            return RpcConnection.this;
        }

        /** What it resolved to, or null. Under the lock. */
        Capability resolution() {
            return state.resolution;
        }

        @Override
        PendingCall send(OutgoingCall outgoing) {
            Capability target;
            PendingCall pipelined;
            synchronized (lock) {
                if (closed) throw new IllegalStateException("call on a released capability");
                if (state.embargoed) {
                    PendingCall stand = new PendingCall(null);
                    if (state.held == null) state.held = new ArrayList<>();
                    Capability resolution = state.resolution;
                    state.held.add(() -> {
                        PendingCall real = resolution.send(outgoing);
                        real.whenDone(() -> stand.adopt(real));
                    });
                    return stand;
                }
                target = state.resolution;
                pipelined = null;
                if (target == null) {
                    if (RpcConnection.this.closed) {
                        outgoing.closeCaps();
                        PendingCall failed = new PendingCall(null);
                        failed.fail(closeReason);
                        return failed;
                    }
                    state.sentCalls++;
                    // Queued under the lock so that the question cannot be finished first; written below.
                    pipelined = sendCall(outgoing, null, questionId, path);
                }
            }
            if (target == null) {
                flush();
                return pipelined;
            }
            return target.send(outgoing);
        }

        @Override
        public Server localServer() {
            synchronized (lock) {
                return state.resolution == null ? null : state.resolution.localServer();
            }
        }

        @Override
        public Capability dup() {
            synchronized (lock) {
                // While embargoed, a handle of the resolution itself would let calls overtake the held ones.
                if (state.resolution != null && !state.embargoed) return state.resolution.dup();
                return new PromiseCap(state);
            }
        }

        @Override
        public void close() {
            Capability toClose = null;
            synchronized (lock) {
                if (closed) return;
                closed = true;
                if (--state.handles == 0 && !state.embargoed) {
                    toClose = state.resolution;
                    state.resolution = null;
                }
            }
            if (toClose != null) toClose.close();
        }
    }

    /** A call from the peer to an object of ours. */
    final class NetworkCall extends IncomingCall {
        private final Answer answer;
        private final long interfaceId;
        private final int methodId;
        private final StructIn params;
        private final Capability[] paramCaps;
        private BuilderArena returnArena;     // the Return, once started
        private StructOut payload;            // its payload, when a view of it was needed
        private int payloadWord = -1;         // where the payload is, for results written without a view
        private StructOut results;
        private ArrayList<Capability> resultCaps;   // made by the first result capability
        private boolean answered;
        private boolean ownedResults = true;  // a result object belongs to the caller; the bootstrap does not
        private Capability target;            // the object called: held until the call is answered
        private InMessage callMessage;        // the Call the parameters are in: released once answered

        NetworkCall(Answer answer, long interfaceId, int methodId, StructIn params, Capability[] paramCaps, Capability target,
                    InMessage callMessage) {
            this.answer = answer;
            this.interfaceId = interfaceId;
            this.methodId = methodId;
            this.params = params;
            this.paramCaps = paramCaps;
            this.target = target;
            this.callMessage = callMessage;
        }

        /** Hands the call to the object it targets. Not under the lock. */
        void deliver() {
            Capability to = target;
            try {
                if (to instanceof LocalCap local) {
                    local.server.dispatch(this);
                } else if (to instanceof BrokenCap broken) {
                    returnException(broken.error);
                } else {
                    forward(to);
                }
            } catch (RuntimeException e) {
                returnException(e);
            }
        }

        /**
         * Forwards the call to {@code to}, a capability that is not an object of ours: one of the caller's (a
         * call reflected back to the caller, as when it pipelined on an answer of ours that holds its own
         * object) or another connection's. The parameters and their capabilities go along; the forwarded
         * call's results, capabilities included, answer this one. Canceling this call cancels the forwarded
         * one. Not under the lock.
         */
        void forward(Capability to) {
            Waiter.flushDeferred();   // sending on another connection may block this reader (see Waiter.wake)
            OutgoingCall out = to.newCall(interfaceId, methodId, PayloadCopy.dataWords(params), params.pointerCount(), 0);
            PayloadCopy.copyStruct(params, out.params());
            for (Capability cap : paramCaps) out.addCap(cap);
            PendingCall forwarded = out.send();
            onCancel(forwarded::cancel);
            forwarded.whenDone(() -> {
                RpcConnection via = forwarded.connection;
                if (via != null && Thread.holdsLock(via.lock)) {
                    // Settled while its connection handles a message: answered once that lets go of its lock
                    // (answering delivers the calls parked on this answer, never under a lock).
                    via.runAfterUnlock(() -> relay(forwarded));
                } else {
                    relay(forwarded);
                }
            });
        }

        /** Answers with the results of {@code forwarded}, which is done. */
        private void relay(PendingCall forwarded) {
            Response response;
            try {
                response = forwarded.await();
            } catch (RpcException e) {
                returnException(e);
                return;
            }
            try (response) {
                StructIn results = response.results();
                StructOut out = initResults(PayloadCopy.dataWords(results), results.pointerCount(), 0);
                PayloadCopy.copyStruct(results, out);
                for (int i = 0; i < response.capCount(); i++) addResult(response.takeCap(i));
                returnResults();
            } catch (RuntimeException e) {
                returnException(e);
            }
        }

        @Override public long interfaceId() { return interfaceId; }
        @Override public int methodId() { return methodId; }
        @Override public StructIn params() { return params; }
        @Override public RpcConnection connection() { return RpcConnection.this; }

        @Override
        public Capability paramCap(int index) {
            return index >= 0 && index < paramCaps.length ? paramCaps[index] : null;
        }

        /** Starts the Return; {@code extraWords} for what its member holds beyond the member itself. */
        private StructOut startReturn(short kind, int extraWords) {
            BuilderArena arena = takeMessage(Messages.words(RpcSchema.RETURN_WORDS, RpcSchema.RETURN_PTRS, extraWords));
            StructOut message = Messages.start(arena, RpcSchema.RETURN, RpcSchema.RETURN_WORDS, RpcSchema.RETURN_PTRS);
            returnArena = arena;
            payloadWord = -1;
            message.setInt(0, answer.id);
            message.setShort(RpcSchema.RETURN_TAG_SHORT, kind);
            return message;
        }

        @Override
        public StructOut initResults(int dataWords, int pointerCount, int sizeHint) {
            // The payload, the results and what the hint counts: what they point to and the capability table.
            // The envelope is written word by word (see Messages.startRaw): Return, payload, results.
            int extraWords = RpcSchema.PAYLOAD_WORDS + RpcSchema.PAYLOAD_PTRS + dataWords + pointerCount + (sizeHint + 7) / 8;
            BuilderArena arena = takeMessage(Messages.words(RpcSchema.RETURN_WORDS, RpcSchema.RETURN_PTRS, extraWords));
            int ret = Messages.MEMBER_WORD;
            int retPointers = ret + RpcSchema.RETURN_WORDS;
            int payloadAt = retPointers + RpcSchema.RETURN_PTRS;
            int resultsAt = payloadAt + RpcSchema.PAYLOAD_WORDS + RpcSchema.PAYLOAD_PTRS;
            SegmentBuilder segment = Messages.startRaw(arena, RpcSchema.RETURN, RpcSchema.RETURN_WORDS, RpcSchema.RETURN_PTRS,
                    resultsAt + dataWords + pointerCount);
            Messages.pointTo(segment, retPointers, 0, payloadAt, RpcSchema.PAYLOAD_WORDS, RpcSchema.PAYLOAD_PTRS);
            Messages.pointTo(segment, payloadAt + RpcSchema.PAYLOAD_WORDS, 0, resultsAt, dataWords, pointerCount);
            segment.buffer.putInt(8 * ret, answer.id);
            segment.buffer.putShort(8 * ret + 2 * RpcSchema.RETURN_TAG_SHORT, RpcSchema.RET_RESULTS);
            // releaseParamCaps = false (the bit set means false: its default is true).
            segment.buffer.put(8 * ret + RpcSchema.RETURN_RELEASE_PARAM_CAPS_BIT / 8, (byte) (1 << (RpcSchema.RETURN_RELEASE_PARAM_CAPS_BIT % 8)));
            returnArena = arena;
            payload = null;
            payloadWord = payloadAt;
            results = Messages.reusedView(segment, resultsAt, dataWords, pointerCount);
            return results;
        }

        @Override
        public int addResultCap(Capability cap) {
            return addResult(cap == null ? null : cap.dup());
        }

        private int addResult(Capability handle) {
            if (resultCaps == null) resultCaps = new ArrayList<>(1);
            resultCaps.add(handle);
            return resultCaps.size() - 1;
        }

        void returnBootstrap(LocalCap cap) {
            StructOut ret = startReturn(RpcSchema.RET_RESULTS, RpcSchema.PAYLOAD_WORDS + RpcSchema.PAYLOAD_PTRS
                    + 1 + RpcSchema.CAPDESC_WORDS + RpcSchema.CAPDESC_PTRS);
            payload = ret.initStruct(0, RpcSchema.PAYLOAD_WORDS, RpcSchema.PAYLOAD_PTRS);
            payload.setCapIndex(0, 0);
            addResult(cap);
            ownedResults = false;
            answer(null);
        }

        @Override
        public void returnResults() {
            if (results == null) initResults(0, 0, 0);
            answer(null);
        }

        @Override
        public void returnException(Throwable error) {
            synchronized (lock) {
                if (answered) return;  // a failure after answering (say, while writing) has nobody to go to
            }
            RpcException rpc = toRpc(error);
            StructOut ret = startReturn(RpcSchema.RET_EXCEPTION,
                    RpcSchema.EXCEPTION_WORDS + RpcSchema.EXCEPTION_PTRS + (rpc.reason().length() + 8) / 8);
            ret.setBool(RpcSchema.RETURN_RELEASE_PARAM_CAPS_BIT, true);
            StructOut exception = ret.initStruct(0, RpcSchema.EXCEPTION_WORDS, RpcSchema.EXCEPTION_PTRS);
            exception.setText(0, rpc.reason());
            exception.setShort(RpcSchema.EXCEPTION_TYPE_SHORT, (short) rpc.type().ordinal());
            closeResultCaps();
            payload = null;
            answer(rpc);
        }

        private void closeResultCaps() {
            if (resultCaps == null) return;
            for (Capability cap : resultCaps) if (cap != null) cap.close();
            resultCaps.clear();
        }

        private void answer(RpcException error) {
            List<NetworkCall> ready = List.of();
            boolean heldBack = false;
            synchronized (lock) {
                if (answered) throw new IllegalStateException("call already answered");
                answered = true;
                if (RpcConnection.this.closed) {
                    closeResultCaps();
                } else {
                    Capability[] caps = resultCaps == null ? NO_CAPS : resultCaps.toArray(NO_CAPS);
                    if (error == null && answer.redirected) {
                        // Kept: read by the question that takes them and by calls pipelined on them, never
                        // written; the message is left to the collector rather than reused.
                        answer.returnedPayload = payload != null ? payload
                                : Messages.view(returnArena.getSegment(0), payloadWord, RpcSchema.PAYLOAD_WORDS, RpcSchema.PAYLOAD_PTRS);
                    } else if (error == null) {
                        answer.resultExports = writeResultCaps(caps);
                        answer.returnedPayload = payload;
                        answer.returnedPayloadWord = payload == null ? payloadWord : -1;
                    }
                    answer.returnMessage = answer.redirected ? null : returnArena;
                    answer.resultCaps = caps;
                    answer.error = error;
                    answer.returned = true;
                    answer.cancelAction = null;
                    answer.moreCancelActions = null;
                    // Calls pipelined on this answer take their capabilities before it can be forgotten, and
                    // reach their threads before the peer can see the Return (and send calls that overtake them).
                    if (answer.waiting == null) {
                        queueReturn(answer);
                    } else {
                        heldBack = true;
                        answer.delivering = true;
                        ready = prepareParked(answer);
                    }
                    if (answer.finished) removeAnswer(answer);
                }
                // The Return is the connection's now (and is reused once written and finished).
                returnArena = null;
                payload = null;
                payloadWord = -1;
                results = null;
                // The parameters' capabilities were lent for the call only.
                if (target != null) target.close();
                target = null;
                for (int i = 0; i < paramCaps.length; i++) {
                    if (paramCaps[i] != null) paramCaps[i].close();
                    paramCaps[i] = null;
                }
            }
            // Answered: the parameters are not read any more (see IncomingCall.params).
            InMessage done = callMessage;
            callMessage = null;
            if (done != null) done.release();
            try {
                while (true) {
                    for (int i = 0; i < ready.size(); i++) ready.get(i).deliver();
                    if (!heldBack) break;
                    synchronized (lock) {
                        ready = prepareParked(answer);   // calls that came in while we delivered
                        if (ready.isEmpty()) {
                            answer.delivering = false;
                            queueReturn(answer);
                            heldBack = false;
                        }
                    }
                }
            } finally {
                List<Runnable> later;
                synchronized (lock) {
                    later = takeAfterUnlock();
                }
                flush();
                runAll(later);
            }
        }

        /**
         * Queues the Return of {@code answer}: its results, or for results kept here (sendResultsTo.yourself)
         * resultsSentElsewhere, whatever the outcome (the question that takes them carries an exception), and
         * the question waiting for them gets them. Under the lock.
         */
        private void queueReturn(Answer answer) {
            if (!answer.redirected) {
                enqueueReturn(answer);
                return;
            }
            StructOut ret = Messages.newMessage(RpcSchema.RETURN, RpcSchema.RETURN_WORDS, RpcSchema.RETURN_PTRS, 0);
            ret.setInt(0, answer.id);
            ret.setBool(RpcSchema.RETURN_RELEASE_PARAM_CAPS_BIT, true);   // releaseParamCaps = false
            ret.setShort(RpcSchema.RETURN_TAG_SHORT, RpcSchema.RET_SENT_ELSEWHERE);
            enqueue(ret);
            answer.returnWritten = true;
            settleTaker(answer);
        }

        /** The calls parked on {@code answer} that are now ready, in arrival order. Under the lock. */
        private List<NetworkCall> prepareParked(Answer answer) {
            List<ParkedCall> parked = answer.takeParked();
            if (parked.isEmpty()) return List.of();
            List<NetworkCall> ready = new ArrayList<>(parked.size());
            for (ParkedCall call : parked) {
                NetworkCall prepared = call.prepareOrPark(answer);
                if (prepared != null) ready.add(prepared);
            }
            return ready;
        }

        private int[] writeResultCaps(Capability[] caps) {
            if (caps.length == 0) return NO_IDS;
            if (payload == null) payload = Messages.view(returnArena.getSegment(0), payloadWord, RpcSchema.PAYLOAD_WORDS, RpcSchema.PAYLOAD_PTRS);
            StructList.Builder<StructOut> table = payload.initList(CAP_LIST, 1, caps.length);
            int[] exported = new int[caps.length];
            int n = 0;
            for (int i = 0; i < caps.length; i++) {
                int export = writeCapDescriptor(table.get(i), caps[i], ownedResults);
                if (export >= 0) exported[n++] = export;
            }
            return n == exported.length ? exported : java.util.Arrays.copyOf(exported, n);
        }

        @Override
        public boolean isCanceled() {
            synchronized (lock) {
                return answer.canceled;
            }
        }

        @Override
        public void onCancel(Runnable action) {
            synchronized (lock) {
                if (!answer.canceled) {
                    answer.addCancelAction(action);
                    return;
                }
            }
            action.run();
        }
    }

    /** Ids numbered here: the lowest free one first, as the C++ implementation does. */
    private static final class IdTable<T> {
        private final ArrayList<T> slots = new ArrayList<>();
        private final BitSet used = new BitSet();
        private int count;

        int add(T value) {
            int id = used.nextClearBit(0);
            used.set(id);
            while (slots.size() <= id) slots.add(null);
            slots.set(id, value);
            count++;
            return id;
        }

        T get(int id) {
            return id >= 0 && id < slots.size() ? slots.get(id) : null;
        }

        T remove(int id) {
            T value = get(id);
            if (value != null) {
                slots.set(id, null);
                used.clear(id);
                count--;
            }
            return value;
        }

        int size() {
            return slots.size();
        }

        int count() {
            return count;
        }

        void clear() {
            slots.clear();
            used.clear();
            count = 0;
        }
    }
}
