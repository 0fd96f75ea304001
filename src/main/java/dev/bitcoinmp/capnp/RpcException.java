package dev.bitcoinmp.capnp;

/**
 * A call that failed: the callee threw (its reason travels as {@code Return.exception}), the connection
 * ended, or the call was refused locally (after close, on a broken capability).
 */
public class RpcException extends RuntimeException {

    /** The exception types of rpc.capnp, in their ordinal order. */
    public enum Type { FAILED, OVERLOADED, DISCONNECTED, UNIMPLEMENTED }

    private final Type type;
    private final String reason;

    public RpcException(Type type, String reason) {
        super(type == Type.FAILED ? "remote exception: " + reason : type.name().toLowerCase() + ": " + reason);
        this.type = type;
        this.reason = reason;
    }

    public Type type() { return type; }

    /** The reason text as it travels on the wire. */
    public String reason() { return reason; }

    static RpcException disconnected(String reason) {
        return new RpcException(Type.DISCONNECTED, reason);
    }
}
