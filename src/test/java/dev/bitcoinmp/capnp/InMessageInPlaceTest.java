package dev.bitcoinmp.capnp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.capnproto.DecodeException;
import org.capnproto.MessageBuilder;
import org.capnproto.StructList;
import org.junit.jupiter.api.Test;

/**
 * The RPC envelope read in place (InMessage's struct references) gives what the runtime's readers give, and
 * leaves to them (NOT_SIMPLE) what it does not read itself: far pointers, pointers of another kind, pointers
 * out of the segment. It charges the traversal limit as they do.
 */
class InMessageInPlaceTest {

    private static final ReaderLimits LIMITS = ReaderLimits.DEFAULT;

    /** A Call to import 3 with two capabilities, parameters {int 42, text "hi"}, built by the runtime. */
    private static MessageBuilder call(MessageBuilder m) {
        StructOut root = m.initRoot(AnyStruct.builderOf(RpcSchema.MESSAGE_WORDS, RpcSchema.MESSAGE_PTRS));
        root.setShort(0, RpcSchema.CALL);
        StructOut call = root.initStruct(0, RpcSchema.CALL_WORDS, RpcSchema.CALL_PTRS);
        call.setInt(0, 7);
        call.setLong(RpcSchema.CALL_IFACE_LONG, 0x1234_5678_9abc_def0L);
        call.setShort(RpcSchema.CALL_METHOD_SHORT, (short) 0xfffe);
        StructOut target = call.initStruct(RpcSchema.CALL_TARGET, RpcSchema.TARGET_WORDS, RpcSchema.TARGET_PTRS);
        target.setShort(RpcSchema.TARGET_TAG_SHORT, RpcSchema.TARGET_IMPORTED);
        target.setInt(0, 3);
        StructOut payload = call.initStruct(RpcSchema.CALL_PARAMS, RpcSchema.PAYLOAD_WORDS, RpcSchema.PAYLOAD_PTRS);
        StructOut params = payload.initStruct(0, 1, 1);
        params.setInt(0, 42);
        params.setText(0, "hi");
        StructList.Builder<StructOut> table = payload.initList(AnyStruct.listOf(RpcSchema.CAPDESC_WORDS, RpcSchema.CAPDESC_PTRS), 1, 2);
        table.get(0).setShort(0, RpcSchema.CAP_SENDER_HOSTED);
        table.get(0).setInt(RpcSchema.CAPDESC_ID_INT, 9);
        table.get(1).setShort(0, RpcSchema.CAP_RECEIVER_HOSTED);
        table.get(1).setInt(RpcSchema.CAPDESC_ID_INT, 4);
        return m;
    }

    private static InMessage read(MessageBuilder m, ReaderLimits limits) {
        ByteBuffer[] segments = m.getSegmentsForOutput();
        int total = 0;
        int[] words = new int[segments.length];
        for (int i = 0; i < segments.length; i++) {
            words[i] = segments[i].remaining() / 8;
            total += segments[i].remaining();
        }
        InMessage in = new InMessage(null, total);
        int at = 0;
        for (ByteBuffer segment : segments) {
            int n = segment.remaining();
            segment.duplicate().get(in.array, at, n);
            at += n;
        }
        in.setUp(words, segments.length, limits);
        return in;
    }

    @Test
    void aCallReadInPlaceGivesWhatTheViewsGive() {
        InMessage m = read(call(new MessageBuilder()), LIMITS);
        assertTrue(m.inPlace());
        long call = m.structField(m.rootStruct(), 0);
        assertNotEquals(InMessage.NOT_SIMPLE, call);
        StructIn view = read(call(new MessageBuilder()), LIMITS).member();
        assertEquals(view.getInt(0), m.getInt(call, 0));
        assertEquals(view.getLong(RpcSchema.CALL_IFACE_LONG), m.getLong(call, RpcSchema.CALL_IFACE_LONG));
        assertEquals(view.getShort(RpcSchema.CALL_METHOD_SHORT), m.getShort(call, RpcSchema.CALL_METHOD_SHORT));
        assertEquals(0, m.getShort(call, RpcSchema.CALL_SEND_TO_SHORT));
        long target = m.structField(call, RpcSchema.CALL_TARGET);
        assertEquals(RpcSchema.TARGET_IMPORTED, m.getShort(target, RpcSchema.TARGET_TAG_SHORT));
        assertEquals(3, m.getInt(target, 0));
        long payload = m.structField(call, RpcSchema.CALL_PARAMS);
        StructIn params = m.viewAtDepth(m.structField(payload, 0), 3);
        assertEquals(42, params.getInt(0));
        assertEquals("hi", params.getText(0));
        assertEquals(view.getStruct(RpcSchema.CALL_PARAMS).getStruct(0).nesting(), params.nesting());
        int[] count = new int[1];
        long table = m.structList(InMessage.pointer(payload, 1), count);
        assertEquals(2, count[0]);
        assertEquals(RpcSchema.CAP_SENDER_HOSTED, m.getShort(InMessage.element(table, 0), 0));
        assertEquals(9, m.getInt(InMessage.element(table, 0), RpcSchema.CAPDESC_ID_INT));
        assertEquals(RpcSchema.CAP_RECEIVER_HOSTED, m.getShort(InMessage.element(table, 1), 0));
        assertEquals(4, m.getInt(InMessage.element(table, 1), RpcSchema.CAPDESC_ID_INT));
        // Beyond a struct's sections everything reads as its default, as with the views.
        assertEquals(0, m.getLong(target, 5));
        assertEquals(0L, m.structField(target, 3));
        assertEquals(false, m.getBool(target, 64));
        // A view's getStruct follows near pointers in place too, with the same nesting as the runtime's.
        StructIn payloadView = m.viewAtDepth(payload, 2);
        assertEquals(42, payloadView.getStruct(0).getInt(0));
        assertEquals(params.nesting(), payloadView.getStruct(0).nesting());
    }

    /** Segments of a few words: the runtime lays the envelope out across them with far pointers. */
    @Test
    void farPointersAreLeftToTheRuntime() {
        MessageBuilder small = new MessageBuilder(min -> ByteBuffer.allocate(Math.max(min, 8 * 4)).order(ByteOrder.LITTLE_ENDIAN));
        InMessage m = read(call(small), LIMITS);
        assertTrue(small.getSegmentsForOutput().length > 2);
        long call = m.structField(m.rootStruct(), 0);
        boolean leftToRuntime = call == InMessage.NOT_SIMPLE
                || m.structField(call, RpcSchema.CALL_TARGET) == InMessage.NOT_SIMPLE
                || m.structField(call, RpcSchema.CALL_PARAMS) == InMessage.NOT_SIMPLE;
        assertTrue(leftToRuntime, "a far pointer on the way was read in place");
        StructIn view = m.member();
        assertEquals(7, view.getInt(0));
        assertEquals("hi", view.getStruct(RpcSchema.CALL_PARAMS).getStruct(0).getText(0));
    }

    @Test
    void pointersOutOfTheSegmentOrOfAnotherKindAreLeftToTheRuntime() {
        MessageBuilder built = call(new MessageBuilder());
        ByteBuffer first = built.getSegmentsForOutput()[0];
        // The Call's target pointer (word 3 + 3 data words = word 6, see the layout above) made to point far
        // beyond the segment, then made a list pointer.
        InMessage m = read(built, LIMITS);
        long call = m.structField(m.rootStruct(), 0);
        int targetPointer = InMessage.pointer(call, RpcSchema.CALL_TARGET);
        long word = first.getLong(8 * targetPointer);
        ByteBuffer body = ByteBuffer.wrap(m.array).order(ByteOrder.LITTLE_ENDIAN);
        body.putLong(8 * targetPointer, (word & ~0xffff_fffcL) | (1_000_000L << 2));
        assertEquals(InMessage.NOT_SIMPLE, m.struct(targetPointer));
        assertThrows(DecodeException.class, () -> m.member().getStruct(RpcSchema.CALL_TARGET));
        body.putLong(8 * targetPointer, (word & ~3L) | 1L);
        assertEquals(InMessage.NOT_SIMPLE, m.struct(targetPointer));
        // A capability table that is not a list of structs.
        int tablePointer = InMessage.pointer(m.structField(call, RpcSchema.CALL_PARAMS), 1);
        long table = body.getLong(8 * tablePointer);
        body.putLong(8 * tablePointer, table & ~(7L << 32) | 6L << 32);
        assertEquals(InMessage.NOT_SIMPLE, m.structList(tablePointer, new int[1]));
    }

    /** Texts are decoded in place when they are in the first segment and end in their NUL, else by the runtime. */
    @Test
    void textsInPlaceAndLeftToTheRuntime() {
        MessageBuilder built = new MessageBuilder();
        StructOut root = built.initRoot(AnyStruct.builderOf(0, 3));
        root.setText(0, "ünïcödé ✓");
        root.setText(1, "");
        InMessage m = read(built, LIMITS);
        StructIn view = m.viewAtDepth(m.rootStruct(), 0);
        assertEquals("ünïcödé ✓", view.getText(0));
        assertEquals("", view.getText(1));
        assertEquals("", view.getText(2));
        int text = InMessage.pointer(m.rootStruct(), 0);
        assertEquals("ünïcödé ✓", m.textInPlace(text));
        // The NUL overwritten: not read in place, and the runtime rejects it.
        ByteBuffer body = ByteBuffer.wrap(m.array).order(ByteOrder.LITTLE_ENDIAN);
        long pointer = body.getLong(8 * text);
        int start = text + 1 + ((int) pointer >> 2);
        int bytes = (int) (pointer >>> 35);
        m.array[8 * start + bytes - 1] = 'x';
        assertEquals(null, m.textInPlace(text));
        assertThrows(DecodeException.class, () -> view.getText(0));
    }

    @Test
    void readingInPlaceChargesTheTraversalLimit() {
        ReaderLimits tight = new ReaderLimits(LIMITS.maxFrameWords(), 6, LIMITS.nestingLimit(), LIMITS.maxSegments());
        InMessage m = read(call(new MessageBuilder()), tight);
        long root = m.rootStruct();                     // 2 words of the 6
        DecodeException e = assertThrows(DecodeException.class, () -> m.structField(root, 0));   // 6 more
        assertEquals("Read limit exceeded.", e.getMessage());
        assertThrows(DecodeException.class, () -> read(call(new MessageBuilder()), tight).member().getStruct(0));
    }
}
