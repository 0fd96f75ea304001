package dev.bitcoinmp.capnp;

import java.util.ArrayList;
import java.util.List;

/** A call that was sent: wait for its answer, or make calls on the capabilities it promises. */
public final class PendingCall {

    private static final Capability[] NO_CAPS = new Capability[0];

    final RpcConnection connection;   // null for a call to an object of this process
    volatile int questionId = -1;
    // The exports the parameters' capability table names ([0, paramExportCount)): released if the Return
    // says so. Guarded by the connection's lock.
    int[] paramExports;
    int paramExportCount;
    // A Finish went out before the Return (the call was canceled): none goes out after it. Guarded as above.
    boolean finishSent;
    private volatile boolean done;
    private StructIn payload;     // content (the results) at pointer 0
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

    public boolean isDone() {
        return done;
    }

    /**
     * Waits for the answer, running calls back into this thread meanwhile; throws {@link RpcException} if
     * the call failed. The response owns the result capabilities; its results may be read until it is closed.
     */
    public Response await() {
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
            return new Response(payload.getStruct(0), caps, this);
        }
    }

    /** The response was closed: its results are read, and their message may be reused unless capabilities were asked of them. */
    void responseClosed() {
        InMessage done;
        synchronized (this) {
            if (pipelined) return;
            done = message;
            message = null;
            payload = null;
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
        if (payload == null) return new BrokenCap(new RpcException(RpcException.Type.FAILED, "the results were released"));
        try {
            int index = walk(payload, path);
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
        settle(payload, caps, null, message);
    }

    /** Takes over the outcome of {@code other} (a call that stood in for this one). */
    void adopt(PendingCall other) {
        Capability[] otherCaps;
        StructIn otherPayload;
        RpcException otherError;
        synchronized (other) {
            otherCaps = other.caps;
            otherPayload = other.payload;
            otherError = other.error;
            other.taken = true;
            other.pipelined = true;   // its message is now read through this call: never released
        }
        settle(otherPayload, otherCaps, otherError, null);
    }

    boolean hasWaiter() {
        return waiter != null;
    }

    void fail(RpcException error) {
        settle(null, NO_CAPS, error, null);
    }

    private void settle(StructIn payload, Capability[] caps, RpcException error, InMessage message) {
        List<Runnable> actions;
        boolean closeCaps;
        synchronized (this) {
            if (done) {
                for (Capability cap : caps) if (cap != null) cap.close();
                if (message != null) message.release();
                return;
            }
            this.payload = payload;
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
