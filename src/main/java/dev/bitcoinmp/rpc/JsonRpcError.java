package dev.bitcoinmp.rpc;

/** A JSON-RPC error: Core's codes and messages (RPC-FACTS section 3). */
public final class JsonRpcError extends RuntimeException {

    public static final int PARSE_ERROR = -32700;
    public static final int INVALID_REQUEST = -32600;
    public static final int METHOD_NOT_FOUND = -32601;
    public static final int INVALID_PARAMS = -32602;
    public static final int INTERNAL_ERROR = -32603;
    public static final int MISC_ERROR = -1;
    public static final int TYPE_ERROR = -3;
    public static final int INVALID_PARAMETER = -8;
    public static final int CLIENT_NOT_CONNECTED = -9;
    public static final int IN_WARMUP = -28;

    private final int code;

    public JsonRpcError(int code, String message) {
        super(message, null, false, false);
        this.code = code;
    }

    public int code() {
        return code;
    }
}
