package dev.bitcoinmp.capnp;

import org.capnproto.BuilderArena;
import org.capnproto.SegmentBuilder;

/**
 * A call being prepared: its parameters are written straight into the Call message that will be sent
 * (or, for an object of this process, read back from it by the callee).
 *
 * <p>The envelope is written word by word (see {@link Messages#startRaw}): the Call at
 * {@link Messages#MEMBER_WORD}, then its target, its payload and the parameters, in the first segment.
 */
public final class OutgoingCall {

    private static final Capability[] NO_CAPS = new Capability[0];
    private static final int CALL = Messages.MEMBER_WORD;
    private static final int CALL_POINTERS = CALL + RpcSchema.CALL_WORDS;
    private static final int TARGET = CALL_POINTERS + RpcSchema.CALL_PTRS;
    private static final int PAYLOAD = TARGET + RpcSchema.TARGET_WORDS + RpcSchema.TARGET_PTRS;
    private static final int PARAMS = PAYLOAD + RpcSchema.PAYLOAD_WORDS + RpcSchema.PAYLOAD_PTRS;
    /** The payload's pointer to the capability table. */
    static final int CAP_TABLE_POINTER = PAYLOAD + RpcSchema.PAYLOAD_WORDS + 1;

    final Capability target;
    final long interfaceId;
    final int methodId;
    final BuilderArena message;
    private final SegmentBuilder segment;
    private final StructOut params;
    /**
     * Handles this call owns until it is sent ([0, capCount)): the first two (a context's) in fields, more in
     * an array; null entries stand for null capabilities.
     */
    private Capability cap0;
    private Capability cap1;
    private Capability[] moreCaps = NO_CAPS;
    private int capCount;
    private boolean sent;

    OutgoingCall(Capability target, long interfaceId, int methodId, int dataWords, int pointerCount, int sizeHint) {
        this.target = target;
        this.interfaceId = interfaceId;
        this.methodId = methodId;
        // Beyond the parameters and what the size hint counts (their content, the capability table): the
        // target and the payload, and room for a promised answer with a transform of a few steps.
        int words = Messages.words(RpcSchema.CALL_WORDS, RpcSchema.CALL_PTRS, 10 + dataWords + pointerCount + (sizeHint + 7) / 8);
        RpcConnection connection = target.connection();
        message = connection != null ? connection.takeMessage(words) : Messages.newArena(words);
        segment = Messages.startRaw(message, RpcSchema.CALL, RpcSchema.CALL_WORDS, RpcSchema.CALL_PTRS, PARAMS + dataWords + pointerCount);
        Messages.pointTo(segment, CALL_POINTERS, RpcSchema.CALL_TARGET, TARGET, RpcSchema.TARGET_WORDS, RpcSchema.TARGET_PTRS);
        Messages.pointTo(segment, CALL_POINTERS, RpcSchema.CALL_PARAMS, PAYLOAD, RpcSchema.PAYLOAD_WORDS, RpcSchema.PAYLOAD_PTRS);
        Messages.pointTo(segment, PAYLOAD + RpcSchema.PAYLOAD_WORDS, 0, PARAMS, dataWords, pointerCount);
        segment.buffer.putLong(8 * CALL + 8 * RpcSchema.CALL_IFACE_LONG, interfaceId);
        segment.buffer.putShort(8 * CALL + 2 * RpcSchema.CALL_METHOD_SHORT, (short) methodId);
        params = connection != null ? Messages.reusedView(segment, PARAMS, dataWords, pointerCount)
                : Messages.view(segment, PARAMS, dataWords, pointerCount);
    }

    /** The parameter struct, to fill before sending (and not to touch after: the message is reused once sent). */
    public StructOut params() {
        return params;
    }

    /** Sets the question id of the Call. */
    void setQuestionId(int id) {
        segment.buffer.putInt(8 * CALL, id);
    }

    /** Makes the target an import of the peer. */
    void targetImport(int importId) {
        segment.buffer.putShort(8 * TARGET + 2 * RpcSchema.TARGET_TAG_SHORT, RpcSchema.TARGET_IMPORTED);
        segment.buffer.putInt(8 * TARGET, importId);
    }

    /** Makes the target a promised answer: returns the target, to write the answer into. */
    StructOut targetPromised() {
        StructOut view = Messages.view(segment, TARGET, RpcSchema.TARGET_WORDS, RpcSchema.TARGET_PTRS);
        view.setShort(RpcSchema.TARGET_TAG_SHORT, RpcSchema.TARGET_PROMISED);
        return view;
    }

    /** The payload (to write its capability table through the runtime when it does not fit raw). */
    StructOut payload() {
        return Messages.view(segment, PAYLOAD, RpcSchema.PAYLOAD_WORDS, RpcSchema.PAYLOAD_PTRS);
    }

    /**
     * Adds {@code cap} to the message's capability table and returns its index, to be written with
     * {@link StructOut#setCapIndex}. The caller keeps its own handle.
     */
    public int addCap(Capability cap) {
        Capability handle = cap == null ? null : cap.dup();
        int index = capCount;
        if (index == 0) {
            cap0 = handle;
        } else if (index == 1) {
            cap1 = handle;
        } else {
            if (moreCaps.length == index - 2) moreCaps = java.util.Arrays.copyOf(moreCaps, Math.max(2, 2 * (index - 2)));
            moreCaps[index - 2] = handle;
        }
        return capCount++;
    }

    int capCount() {
        return capCount;
    }

    /** The handle at {@code index} of the capability table (null for a null capability). */
    Capability cap(int index) {
        return index == 0 ? cap0 : index == 1 ? cap1 : moreCaps[index - 2];
    }

    /** Sends the call; its answer comes through the returned handle. */
    public PendingCall send() {
        if (sent) throw new IllegalStateException("call already sent");
        sent = true;
        return target.send(this);
    }

    void closeCaps() {
        for (int i = 0; i < capCount; i++) {
            Capability cap = cap(i);
            if (cap != null) cap.close();
        }
        cap0 = null;
        cap1 = null;
        java.util.Arrays.fill(moreCaps, null);
        capCount = 0;
    }
}
