package dev.bitcoinmp.capnp;

/**
 * Layout of the structs of rpc.capnp that the two-party protocol uses: union tags, data offsets (in units of
 * the field's size) and pointer indexes, as the capnp compiler assigns them.
 */
final class RpcSchema {
    private RpcSchema() {}

    // Message: 1 data word, 1 pointer; union tag at short 0, the member at pointer 0.
    static final int MESSAGE_WORDS = 1, MESSAGE_PTRS = 1;
    static final short UNIMPLEMENTED = 0, ABORT = 1, CALL = 2, RETURN = 3, FINISH = 4, RESOLVE = 5,
            RELEASE = 6, OBSOLETE_SAVE = 7, BOOTSTRAP = 8, OBSOLETE_DELETE = 9, PROVIDE = 10, ACCEPT = 11,
            JOIN = 12, DISEMBARGO = 13;

    // Bootstrap: questionId int 0.
    static final int BOOTSTRAP_WORDS = 1, BOOTSTRAP_PTRS = 1;

    // Call: questionId int 0, methodId short 2, sendResultsTo tag short 3, interfaceId long 1;
    // target ptr 0, params ptr 1.
    static final int CALL_WORDS = 3, CALL_PTRS = 3;
    static final int CALL_METHOD_SHORT = 2, CALL_SEND_TO_SHORT = 3, CALL_IFACE_LONG = 1;
    static final int CALL_TARGET = 0, CALL_PARAMS = 1;
    static final short SEND_TO_CALLER = 0, SEND_TO_YOURSELF = 1, SEND_TO_THIRD_PARTY = 2;

    // Return: answerId int 0, releaseParamCaps bit 32 (default true), tag short 3; member at ptr 0.
    static final int RETURN_WORDS = 2, RETURN_PTRS = 1;
    static final int RETURN_RELEASE_PARAM_CAPS_BIT = 32, RETURN_TAG_SHORT = 3, RETURN_TAKE_FROM_INT = 2;
    static final short RET_RESULTS = 0, RET_EXCEPTION = 1, RET_CANCELED = 2, RET_SENT_ELSEWHERE = 3,
            RET_TAKE_FROM_OTHER = 4, RET_ACCEPT_FROM_THIRD = 5;

    // Finish: questionId int 0, releaseResultCaps bit 32 (default true).
    static final int FINISH_WORDS = 1, FINISH_PTRS = 0, FINISH_RELEASE_RESULT_CAPS_BIT = 32;

    // Resolve: promiseId int 0, tag short 2: cap (ptr 0) or exception (ptr 0).
    static final int RESOLVE_TAG_SHORT = 2;
    static final short RESOLVE_CAP = 0, RESOLVE_EXCEPTION = 1;

    // Release: id int 0, referenceCount int 1.
    static final int RELEASE_WORDS = 1, RELEASE_PTRS = 0;

    // Disembargo: target ptr 0, tag short 2, the u32 member at int 0.
    static final int DISEMBARGO_WORDS = 1, DISEMBARGO_PTRS = 1, DISEMBARGO_TAG_SHORT = 2;
    static final short DIS_SENDER_LOOPBACK = 0, DIS_RECEIVER_LOOPBACK = 1, DIS_ACCEPT = 2, DIS_PROVIDE = 3;

    // MessageTarget: tag short 2; importedCap int 0 or promisedAnswer ptr 0.
    static final int TARGET_WORDS = 1, TARGET_PTRS = 1, TARGET_TAG_SHORT = 2;
    static final short TARGET_IMPORTED = 0, TARGET_PROMISED = 1;

    // Payload: content ptr 0, capTable ptr 1.
    static final int PAYLOAD_WORDS = 0, PAYLOAD_PTRS = 2;

    // CapDescriptor: tag short 0, id int 1, receiverAnswer ptr 0, attachedFd byte 2 (default 255).
    static final int CAPDESC_WORDS = 1, CAPDESC_PTRS = 1, CAPDESC_ID_INT = 1, CAPDESC_FD_BYTE = 2;
    static final short CAP_NONE = 0, CAP_SENDER_HOSTED = 1, CAP_SENDER_PROMISE = 2, CAP_RECEIVER_HOSTED = 3,
            CAP_RECEIVER_ANSWER = 4, CAP_THIRD_PARTY = 5;

    // PromisedAnswer: questionId int 0, transform ptr 0 (List(Op)); Op: tag short 0, getPointerField short 1.
    static final int PROMISED_WORDS = 1, PROMISED_PTRS = 1, OP_WORDS = 1, OP_PTRS = 0;
    static final short OP_NOOP = 0, OP_GET_POINTER_FIELD = 1;

    // Exception: reason ptr 0, type short 2, trace ptr 1.
    static final int EXCEPTION_WORDS = 1, EXCEPTION_PTRS = 2, EXCEPTION_TYPE_SHORT = 2;
}
