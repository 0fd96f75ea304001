package dev.bitcoinmp.capnp;

import java.util.ArrayList;
import org.capnproto.MessageBuilder;

/** A call between two objects of this process: parameters and results are messages never sent. */
final class LocalIncomingCall extends IncomingCall {

    private final OutgoingCall call;
    private final PendingCall pending;
    private StructOut holder;     // stands where a Payload would: content at pointer 0
    private StructOut results;
    private final ArrayList<Capability> resultCaps = new ArrayList<>(1);
    private boolean answered;

    LocalIncomingCall(OutgoingCall call, PendingCall pending) {
        this.call = call;
        this.pending = pending;
    }

    @Override public long interfaceId() { return call.interfaceId; }
    @Override public int methodId() { return call.methodId; }
    @Override public StructIn params() { return call.params().asReader(); }
    @Override public RpcConnection connection() { return null; }

    @Override
    public Capability paramCap(int index) {
        return index >= 0 && index < call.capCount() ? call.cap(index) : null;
    }

    @Override
    public StructOut initResults(int dataWords, int pointerCount, int sizeHint) {
        MessageBuilder message = new MessageBuilder(8 + dataWords + pointerCount + (sizeHint + 7) / 8);
        holder = message.initRoot(AnyStruct.builderOf(0, 1));
        results = holder.initStruct(0, dataWords, pointerCount);
        return results;
    }

    @Override
    public int addResultCap(Capability cap) {
        resultCaps.add(cap == null ? null : cap.dup());
        return resultCaps.size() - 1;
    }

    @Override
    public synchronized void returnResults() {
        if (answered) throw new IllegalStateException("call already answered");
        answered = true;
        if (results == null) initResults(0, 0, 0);
        call.closeCaps();
        pending.complete(holder.asReader(), resultCaps.toArray(Capability[]::new), null);
    }

    @Override
    public synchronized void returnException(Throwable error) {
        if (answered) return;
        answered = true;
        call.closeCaps();
        for (Capability cap : resultCaps) if (cap != null) cap.close();
        pending.fail(toRpc(error));
    }

    @Override public boolean isCanceled() { return false; }
    @Override public void onCancel(Runnable action) {}
}
