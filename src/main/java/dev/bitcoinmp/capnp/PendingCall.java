package dev.bitcoinmp.capnp;

import java.util.ArrayList;
import java.util.List;

/** A call that was sent: wait for its answer, or make calls on the capabilities it promises. */
public final class PendingCall {

    private static final Capability[] NO_CAPS = new Capability[0];

    final RpcConnection connection;   // null for a call to an object of this process
    volatile int questionId = -1;
    // The exports the parameters' capability table names: released if the Return says so. The first two (a
    // call with a context has one or two) in fields, more in an array. Guarded by the connection's lock.
    private int paramExportCount;
    private int paramExport0;
    private int paramExport1;
    private int[] moreParamExports;
    // A Finish went out before the Return (the call was canceled): none goes out after it. Guarded by the
    // connection's lock.
    boolean finishSent;
    private volatile boolean done;
    private StructIn payload;     // content (the results) at pointer 0; null when only the results were read
    private StructIn results;     // the content, once read (or as read with the envelope in place)
    private InMessage message;    // the Return the payload is in, released once the response is closed
    private boolean pipelined;    // capabilities were asked of the results: their message is never released
    private Capability[] caps = NO_CAPS;
    private RpcException error;
    private volatile Waiter waiter;
    private boolean taken;
    private boolean abandoned;
    private List<Runnable> whenDone;

    PendingCall(RpcConnection connection) {
        this.connection = connection;
    }

    /** Notes an export the parameters name. Under the connection's lock. */
    void addParamExport(int id) {
        int n = paramExportCount++;
        if (n == 0) {
            paramExport0 = id;
        } else if (n == 1) {
            paramExport1 = id;
        } else {
            if (moreParamExports == null) moreParamExports = new int[4];
            else if (moreParamExports.length == n - 2) moreParamExports = java.util.Arrays.copyOf(moreParamExports, 2 * (n - 2));
            moreParamExports[n - 2] = id;
        }
    }

    int paramExportCount() {
        return paramExportCount;
    }

    int paramExport(int i) {
        return i == 0 ? paramExport0 : i == 1 ? paramExport1 : moreParamExports[i - 2];
    }

    void clearParamExports() {
        paramExportCount = 0;
        moreParamExports = null;
    }

    public boolean isDone() {
        return done;
    }

    /**
     * Waits for the answer, running calls back into this thread meanwhile; throws {@link RpcException} if
     * the call failed. The response owns the result capabilities; its results may be read until it is closed.
     */
    public Response await() {
        return new Response(awaitResults(), caps, this);
    }

    /**
     * As {@link #await()}, without a response object: the results, readable until {@link #closeResults()},
     * which also closes the result capabilities (for a caller that takes none of them).
     */
    public StructIn awaitResults() {
        if (!done) {
            Waiter w = Waiter.current();
            waiter = w;
            if (!done) w.await(this);
        }
        if (connection != null) connection.flush();
        synchronized (this) {
            if (error != null) throw new RpcException(error.type(), error.reason());
            if (taken) throw new IllegalStateException("response already taken");
            taken = true;
            return content();
        }
    }

    /** The results from {@link #awaitResults()} are read: as closing the response of {@link #await()}. */
    public void closeResults() {
        Capability[] owned;
        synchronized (this) {
            owned = caps;
        }
        for (int i = 0; i < owned.length; i++) {
            if (owned[i] != null) owned[i].close();
            owned[i] = null;
        }
        responseClosed();
    }

    /** The results (the payload's content). Under this object's lock. */
    private StructIn content() {
        if (results == null) results = payload.getStruct(0);
        return results;
    }

    /** The response was closed: its results are read, and their message may be reused unless capabilities were asked of them. */
    void responseClosed() {
        InMessage done;
        synchronized (this) {
            if (pipelined) return;
            done = message;
            message = null;
            payload = null;
            results = null;
        }
        if (done != null) done.release();
    }

    /** Capabilities are (or may be) taken from the results at any time: their message is kept as it is. */
    synchronized void markPipelined() {
        pipelined = true;
    }

    /**
     * A capability for the pointer at {@code path} of the results (a path of pointer indexes from the
     * result struct): usable at once, before the answer arrives (promise pipelining).
     */
    public Capability pipelinedCap(short... path) {
        synchronized (this) {
            pipelined = true;
            if (done) return resultCap(path);
        }
        if (connection == null) {
            // A call to an object of this process gains nothing from pipelining: wait for it here.
            Waiter w = Waiter.current();
            waiter = w;
            w.await(this);
            return resultCap(path);
        }
        return connection.promiseCap(this, path);
    }

    /** The caller will not wait for the answer: its result capabilities are released when it comes. */
    public void release() {
        Capability[] toClose = null;
        InMessage unused = null;
        synchronized (this) {
            abandoned = true;
            if (done && !taken) {
                taken = true;
                toClose = caps;
                if (!pipelined) {
                    unused = message;
                    message = null;
                    payload = null;
                    results = null;
                }
            }
        }
        if (toClose != null) for (Capability cap : toClose) if (cap != null) cap.close();
        if (unused != null) unused.release();
    }

    /**
     * The caller gives up on the call: the peer gets a Finish now (and may cancel it), and the result
     * capabilities are released if they still come. A call whose results something was pipelined on is only
     * released (its question stays until the answer is in, as those calls name it).
     */
    public void cancel() {
        boolean finish;
        synchronized (this) {
            finish = !pipelined && !done;
        }
        if (finish && connection != null) connection.cancelQuestion(this);
        release();
    }

    /** The result capability at {@code path} (a new handle), or a broken one if the call failed. */
    synchronized Capability resultCap(short[] path) {
        if (error != null) return new BrokenCap(error);
        if (payload == null && results == null) {
            return new BrokenCap(new RpcException(RpcException.Type.FAILED, "the results were released"));
        }
        try {
            int index = payload != null ? walk(payload, path) : walkContent(results, path);
            if (index < 0 || index >= caps.length || caps[index] == null) {
                return new BrokenCap(new RpcException(RpcException.Type.FAILED, "promised capability is null"));
            }
            return caps[index].dup();
        } catch (RuntimeException e) {
            return new BrokenCap(new RpcException(RpcException.Type.FAILED, "bad pipeline path: " + e.getMessage()));
        }
    }

    /**
     * The capability-table index at {@code path} under the content of {@code payload} (pointer 0 of it):
     * an empty path names the content itself, as in a pipelined call's transform.
     */
    static int walk(StructIn payload, short[] path) {
        StructIn struct = payload;
        int last = 0;
        for (short index : path) {
            struct = struct.getStruct(last);
            last = index;
        }
        return struct.getCapIndex(last);
    }

    /** As {@link #walk}, from the content itself (a struct: an empty path names no capability). */
    static int walkContent(StructIn content, short[] path) {
        if (path.length == 0) throw new MalformedMessageException("the results are a struct, not a capability");
        StructIn struct = content;
        int last = path[0];
        for (int i = 1; i < path.length; i++) {
            struct = struct.getStruct(last);
            last = path[i];
        }
        return struct.getCapIndex(last);
    }

    /** Runs {@code action} once the answer is in (at once if it is). */
    void whenDone(Runnable action) {
        synchronized (this) {
            if (!done) {
                if (whenDone == null) whenDone = new ArrayList<>(1);
                whenDone.add(action);
                return;
            }
        }
        action.run();
    }

    /** The call returned {@code payload}, in {@code message} (released when the results are done with; may be null). */
    void complete(StructIn payload, Capability[] caps, InMessage message) {
        settle(payload, null, caps, null, message);
    }

    /** The call returned {@code results} (the payload's content, read in place), in {@code message}. */
    void completeWithResults(StructIn results, Capability[] caps, InMessage message) {
        settle(null, results, caps, null, message);
    }

    /** Takes over the outcome of {@code other} (a call that stood in for this one). */
    void adopt(PendingCall other) {
        Capability[] otherCaps;
        StructIn otherPayload;
        StructIn otherResults;
        RpcException otherError;
        synchronized (other) {
            otherCaps = other.caps;
            otherPayload = other.payload;
            otherResults = other.results;
            otherError = other.error;
            other.taken = true;
            other.pipelined = true;   // its message is now read through this call: never released
        }
        settle(otherPayload, otherResults, otherCaps, otherError, null);
    }

    boolean hasWaiter() {
        return waiter != null;
    }

    void fail(RpcException error) {
        settle(null, null, NO_CAPS, error, null);
    }

    private void settle(StructIn payload, StructIn results, Capability[] caps, RpcException error, InMessage message) {
        List<Runnable> actions;
        boolean closeCaps;
        synchronized (this) {
            if (done) {
                for (Capability cap : caps) if (cap != null) cap.close();
                if (message != null) message.release();
                return;
            }
            this.payload = payload;
            this.results = results;
            this.message = message;
            this.caps = caps;
            this.error = error;
            actions = whenDone;
            whenDone = null;
            closeCaps = abandoned;
            done = true;
        }
        if (actions != null) for (Runnable action : actions) action.run();
        if (closeCaps) release();
        Waiter w = waiter;
        if (w != null) w.wake();
    }
}
