package dev.bitcoinmp.capnp;

import java.util.ArrayList;
import org.capnproto.MessageBuilder;

/**
 * A call being prepared: its parameters are written straight into the Call message that will be sent
 * (or, for an object of this process, read back from it by the callee).
 */
public final class OutgoingCall {

    final Capability target;
    final long interfaceId;
    final int methodId;
    final MessageBuilder message;
    final StructOut call;
    final StructOut payload;
    private final StructOut params;
    /** Handles this call owns until it is sent; null entries stand for null capabilities. */
    final ArrayList<Capability> caps = new ArrayList<>(2);
    private boolean sent;

    OutgoingCall(Capability target, long interfaceId, int methodId, int dataWords, int pointerCount, int sizeHint) {
        this.target = target;
        this.interfaceId = interfaceId;
        this.methodId = methodId;
        this.message = new MessageBuilder(24 + dataWords + pointerCount + (sizeHint + 7) / 8);
        StructOut root = message.initRoot(AnyStruct.builderOf(RpcSchema.MESSAGE_WORDS, RpcSchema.MESSAGE_PTRS));
        root.setShort(0, RpcSchema.CALL);
        call = root.initStruct(0, RpcSchema.CALL_WORDS, RpcSchema.CALL_PTRS);
        call.setLong(RpcSchema.CALL_IFACE_LONG, interfaceId);
        call.setShort(RpcSchema.CALL_METHOD_SHORT, (short) methodId);
        payload = call.initStruct(RpcSchema.CALL_PARAMS, RpcSchema.PAYLOAD_WORDS, RpcSchema.PAYLOAD_PTRS);
        params = payload.initStruct(0, dataWords, pointerCount);
    }

    /** The parameter struct, to fill before sending. */
    public StructOut params() {
        return params;
    }

    /**
     * Adds {@code cap} to the message's capability table and returns its index, to be written with
     * {@link StructOut#setCapIndex}. The caller keeps its own handle.
     */
    public int addCap(Capability cap) {
        caps.add(cap == null ? null : cap.dup());
        return caps.size() - 1;
    }

    /** Sends the call; its answer comes through the returned handle. */
    public PendingCall send() {
        if (sent) throw new IllegalStateException("call already sent");
        sent = true;
        return target.send(this);
    }

    void closeCaps() {
        for (Capability cap : caps) if (cap != null) cap.close();
        caps.clear();
    }
}
