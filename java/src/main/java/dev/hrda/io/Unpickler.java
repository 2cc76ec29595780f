package dev.hrda.io;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A restricted unpickler (pickle protocols 0-5) for the pickles inside torch checkpoints. It
 * builds only plain values and tensors: dict (and OrderedDict) become {@link LinkedHashMap},
 * list {@link ArrayList}, tuple a fixed-size {@link List}, str {@link String}, int {@link Long}
 * (or {@link BigInteger}), float {@link Double}, bool, None (null), bytes {@code byte[]}, and
 * torch's tensor rebuild calls {@link StoredTensor}s.
 *
 * A pickle is a program: GLOBAL names any Python callable and REDUCE calls it. Here a global is
 * accepted only if it is one that torch.save emits for tensors and state dicts ({@link #ALLOWED});
 * any other (os.system, builtins.eval, numpy objects, ...) stops the load with an error that
 * names it. Nothing is ever executed: the allowed calls are implemented here.
 */
final class Unpickler {
    /** Resolves a persistent id ('storage', type, key, location, numel[, view]) to a storage. */
    interface Storages {
        Storage load(StoredDType dtype, String key, long numel);
    }

    /** A torch storage: its dtype, element count, and where its bytes are. */
    record Storage(StoredDType dtype, long numel, long bytes, ByteOrder order,
                   java.util.function.Supplier<ByteBuffer> data, String source) {}

    /** A global accepted by the allow list. */
    private record Global(String module, String name) {
        String full() { return module + "." + name; }
    }

    /** A torch.*Storage class used as a storage type in persistent ids. */
    private record StorageType(StoredDType dtype, String name) {}

    private static final Object MARK = new Object();

    private static final Map<String, StoredDType> STORAGE_TYPES = storageTypes();

    /** torch.<X>Storage -> dtype, from {@link StoredDType#torchStorage}; UntypedStorage holds bytes. */
    private static Map<String, StoredDType> storageTypes() {
        Map<String, StoredDType> m = new HashMap<>();
        for (StoredDType d : StoredDType.values()) m.put(d.torchStorage, d);
        m.put("UntypedStorage", StoredDType.U8);
        return Map.copyOf(m);
    }

    /** Callable globals: exactly what torch.save writes for tensors, parameters and state dicts. */
    static final Set<String> ALLOWED = Set.of(
            "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor", "torch._utils._rebuild_parameter",
            "torch._utils._rebuild_parameter_with_state", "collections.OrderedDict", "torch.device", "torch.Size",
            "_codecs.encode");

    private final ByteBuffer in;
    private final String where;
    private final Storages storages;
    private final List<Object> stack = new ArrayList<>();
    private final List<Integer> marks = new ArrayList<>();
    private final Map<Long, Object> memo = new HashMap<>();

    /**
     * @param in    the pickle, read from its position (left after STOP, for consecutive pickles)
     * @param where the file and record, for messages ("x.pth (archive/data.pkl)")
     */
    Unpickler(ByteBuffer in, String where, Storages storages) {
        this.in = in.order(ByteOrder.LITTLE_ENDIAN);
        this.where = where;
        this.storages = storages;
    }

    /** Errors of the pickle stream; the caller adds the file name. */
    static final class PickleException extends RuntimeException {
        PickleException(String msg) { super(msg); }
    }

    private PickleException error(String what) {
        return new PickleException(where + " at byte " + in.position() + ": " + what);
    }

    Object load() {
        try {
            return run();
        } catch (java.nio.BufferUnderflowException e) {
            throw error("truncated pickle");
        }
    }

    private Object run() {
        while (true) {
            if (!in.hasRemaining()) throw error("pickle ends without STOP");
            int op = in.get() & 0xff;
            switch (op) {
                case 0x80 -> { // PROTO
                    int proto = u8();
                    if (proto > 5) throw error("unsupported pickle protocol " + proto);
                }
                case 0x95 -> bytes(8); // FRAME: length prefix only
                case '.' -> { // STOP
                    return pop();
                }
                case '(' -> { marks.add(stack.size()); stack.add(MARK); }
                case '0' -> pop(); // POP
                case '1' -> popMark(); // POP_MARK
                case '2' -> push(peek()); // DUP
                case '}' -> push(new LinkedHashMap<>());
                case ']' -> push(new ArrayList<>());
                case ')' -> push(tuple());
                case 0x8f -> push(new LinkedHashSet<>()); // EMPTY_SET
                case 'd' -> { List<Object> items = popMark(); push(setItems(new LinkedHashMap<>(), items)); }
                case 'l' -> push(new ArrayList<>(popMark()));
                case 't' -> push(tuple(popMark().toArray()));
                case 0x85 -> push(tuple(pop()));
                case 0x86 -> { Object b = pop(), a = pop(); push(tuple(a, b)); }
                case 0x87 -> { Object c = pop(), b = pop(), a = pop(); push(tuple(a, b, c)); }
                case 0x91 -> { List<Object> items = popMark(); for (Object o : items) hashable(o, 0); push(new LinkedHashSet<>(items)); } // FROZENSET
                case 's' -> { Object v = pop(), k = pop(); setItems(peek(), Arrays.asList(k, v)); }
                case 'u' -> { List<Object> items = popMark(); setItems(peek(), items); }
                case 'a' -> { Object v = pop(); list(peek()).add(v); }
                case 'e' -> { List<Object> items = popMark(); list(peek()).addAll(items); }
                case 0x90 -> { List<Object> items = popMark(); for (Object o : items) hashable(o, 0); set(peek()).addAll(items); } // ADDITEMS
                case 'J' -> push((long) in.getInt()); // BININT
                case 'K' -> push((long) u8()); // BININT1
                case 'M' -> push((long) (in.getShort() & 0xffff)); // BININT2
                case 0x8a -> push(longLE(bytes(u8()))); // LONG1
                case 0x8b -> push(longLE(bytes(length(in.getInt() & 0xffffffffL)))); // LONG4
                case 'I' -> push(textInt(line())); // INT (protocol 0; "01"/"00" are bools)
                case 'L' -> push(integer(new BigInteger(stripL(line())))); // LONG (protocol 0)
                case 'G' -> push(in.duplicate().order(ByteOrder.BIG_ENDIAN).getDouble(skip(8))); // BINFLOAT
                case 'F' -> push(Double.parseDouble(line())); // FLOAT
                case 'N' -> push(null);
                case 0x88 -> push(Boolean.TRUE);
                case 0x89 -> push(Boolean.FALSE);
                case 'X' -> push(utf8(bytes(length(in.getInt() & 0xffffffffL)))); // BINUNICODE
                case 0x8c -> push(utf8(bytes(u8()))); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(bytes(length(in.getLong())))); // BINUNICODE8
                case 'V' -> push(unicodeEscape(line())); // UNICODE (protocol 0)
                case 'T' -> push(latin1(bytes(length(in.getInt() & 0xffffffffL)))); // BINSTRING (Python 2 str)
                case 'U' -> push(latin1(bytes(u8()))); // SHORT_BINSTRING
                case 'S' -> push(pythonStringLiteral(line())); // STRING
                case 'B' -> push(bytes(length(in.getInt() & 0xffffffffL))); // BINBYTES
                case 'C' -> push(bytes(u8())); // SHORT_BINBYTES
                case 0x8e, 0x96 -> push(bytes(length(in.getLong()))); // BINBYTES8, BYTEARRAY8
                case 'q' -> memo.put((long) u8(), peek()); // BINPUT
                case 'r' -> memo.put(in.getInt() & 0xffffffffL, peek()); // LONG_BINPUT
                case 'p' -> memo.put(Long.parseLong(line()), peek()); // PUT
                case 0x94 -> memo.put((long) memo.size(), peek()); // MEMOIZE
                case 'h' -> push(get(u8())); // BINGET
                case 'j' -> push(get(in.getInt() & 0xffffffffL)); // LONG_BINGET
                case 'g' -> push(get(Long.parseLong(line()))); // GET
                case 'c' -> { String module = line(); push(global(module, line())); } // GLOBAL
                case 0x93 -> { Object name = pop(), module = pop(); push(global(str(module), str(name))); } // STACK_GLOBAL
                case 'R' -> { Object args = pop(), f = pop(); push(reduce(f, args)); } // REDUCE
                case 0x81 -> { Object args = pop(), cls = pop(); push(newObject(cls, args)); } // NEWOBJ
                case 0x92 -> { pop(); Object args = pop(), cls = pop(); push(newObject(cls, args)); } // NEWOBJ_EX
                case 'b' -> build(pop(), peek()); // BUILD
                case 'Q' -> push(persistentLoad(pop())); // BINPERSID
                case 'P' -> push(persistentLoad(line())); // PERSID
                case 'i', 'o' -> throw error("refusing opcode " + (op == 'i' ? "INST" : "OBJ")
                        + " (creates an arbitrary object); a checkpoint is untrusted input");
                case 0x82, 0x83, 0x84 -> throw error("refusing extension-registry opcode EXT" + (op == 0x82 ? 1 : op == 0x83 ? 2 : 4));
                case 0x97, 0x98 -> throw error("out-of-band buffers (pickle protocol 5) are not supported");
                default -> throw error(String.format("unknown pickle opcode 0x%02x", op));
            }
        }
    }

    // ---- stack and input helpers ----
    private void push(Object o) { stack.add(o); }

    private Object pop() {
        if (stack.isEmpty()) throw error("stack underflow");
        Object o = stack.remove(stack.size() - 1);
        if (o == MARK) throw error("unexpected MARK on the stack");
        return o;
    }

    private Object peek() {
        if (stack.isEmpty() || stack.get(stack.size() - 1) == MARK) throw error("stack underflow");
        return stack.get(stack.size() - 1);
    }

    private List<Object> popMark() {
        if (marks.isEmpty()) throw error("no MARK on the stack");
        int at = marks.remove(marks.size() - 1);
        List<Object> items = new ArrayList<>(stack.subList(at + 1, stack.size()));
        stack.subList(at, stack.size()).clear();
        return items;
    }

    private Object get(long key) {
        if (!memo.containsKey(key)) throw error("memo key " + key + " not defined");
        return memo.get(key);
    }

    private int u8() { need(1); return in.get() & 0xff; }

    private int skip(int n) {
        need(n);
        int p = in.position();
        in.position(p + n);
        return p;
    }

    private void need(long n) {
        if (n > in.remaining()) throw error("truncated pickle (needs " + n + " more bytes, has " + in.remaining() + ")");
    }

    private int length(long n) {
        if (n < 0 || n > Integer.MAX_VALUE) throw error("bad length " + n);
        need(n);
        return (int) n;
    }

    private byte[] bytes(int n) {
        need(n);
        byte[] b = new byte[n];
        in.get(b);
        return b;
    }

    private String line() {
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (!in.hasRemaining()) throw error("truncated pickle (unterminated line)");
            byte b = in.get();
            if (b == '\n') return sb.toString();
            sb.append((char) (b & 0xff));
        }
    }

    private static String utf8(byte[] b) { return new String(b, StandardCharsets.UTF_8); }

    private static String latin1(byte[] b) { return new String(b, StandardCharsets.ISO_8859_1); }

    private static List<Object> tuple(Object... items) { return Arrays.asList(items); }

    private static Object integer(BigInteger v) { return v.bitLength() < 64 ? (Object) v.longValue() : v; }

    private static Object longLE(byte[] b) {
        if (b.length == 0) return 0L;
        byte[] be = new byte[b.length];
        for (int i = 0; i < b.length; i++) be[i] = b[b.length - 1 - i];
        return integer(new BigInteger(be));
    }

    private static String stripL(String s) { return s.endsWith("L") ? s.substring(0, s.length() - 1) : s; }

    private Object textInt(String s) {
        if (s.equals("01")) return Boolean.TRUE;
        if (s.equals("00")) return Boolean.FALSE;
        try {
            return integer(new BigInteger(s.trim()));
        } catch (NumberFormatException e) {
            throw error("bad INT '" + s + "'");
        }
    }

    private String unicodeEscape(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 5 < s.length() && s.charAt(i + 1) == 'u') {
                sb.append((char) Integer.parseInt(s.substring(i + 2, i + 6), 16));
                i += 5;
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private String pythonStringLiteral(String s) {
        if (s.length() < 2 || (s.charAt(0) != '\'' && s.charAt(0) != '"') || s.charAt(s.length() - 1) != s.charAt(0)) {
            throw error("bad STRING literal");
        }
        String body = s.substring(1, s.length() - 1);
        if (body.indexOf('\\') >= 0) throw error("escaped STRING literals are not supported");
        return body;
    }

    private static String str(Object o) {
        if (!(o instanceof String s)) throw new PickleException("STACK_GLOBAL needs strings, got " + describe(o));
        return s;
    }

    private Object setItems(Object target, List<Object> kv) {
        if (!(target instanceof Map<?, ?>)) throw error("SETITEM on " + describe(target));
        if (kv.size() % 2 != 0) throw error("odd number of items for SETITEMS");
        @SuppressWarnings("unchecked") Map<Object, Object> m = (Map<Object, Object>) target;
        for (int i = 0; i < kv.size(); i += 2) m.put(hashable(kv.get(i), 0), kv.get(i + 1));
        return m;
    }

    /** Deepest tuple a dict key or set element may be: hashing a deeper one would recurse without bound. */
    private static final int MAX_KEY_DEPTH = 8;

    /** A dict key or set element: a scalar or a shallow tuple of them (Python would refuse lists and dicts too). */
    private Object hashable(Object k, int depth) {
        if (k == null || k instanceof String || k instanceof Number || k instanceof Boolean || k instanceof byte[]) return k;
        if (k instanceof List<?> t && depth < MAX_KEY_DEPTH) {
            for (Object o : t) hashable(o, depth + 1);
            return k;
        }
        throw error(k instanceof List<?> ? "dict key or set element nested more than " + MAX_KEY_DEPTH + " tuples deep"
                                         : "unhashable dict key or set element " + describe(k));
    }

    @SuppressWarnings("unchecked")
    private List<Object> list(Object o) {
        if (!(o instanceof ArrayList<?>)) throw error("APPEND on " + describe(o));
        return (List<Object>) o;
    }

    @SuppressWarnings("unchecked")
    private Set<Object> set(Object o) {
        if (!(o instanceof LinkedHashSet<?>)) throw error("ADDITEMS on " + describe(o));
        return (Set<Object>) o;
    }

    static String describe(Object o) {
        if (o == null) return "None";
        if (o instanceof Global g) return g.full();
        return o.getClass().getSimpleName();
    }

    // ---- the restricted object model ----
    private Object global(String module, String name) {
        String full = module + "." + name;
        if ((module.equals("torch") || module.equals("torch.cuda") || module.equals("torch.storage"))
                && STORAGE_TYPES.containsKey(name)) {
            return new StorageType(STORAGE_TYPES.get(name), full);
        }
        if (ALLOWED.contains(full)) return new Global(module, name);
        throw new PickleException(where + ": refusing global '" + full + "': only torch's tensor and storage "
                + "rebuild functions and collections.OrderedDict may appear in a checkpoint (a .pth file is "
                + "untrusted input; nothing was executed)");
    }

    private Object reduce(Object f, Object argsObj) {
        if (!(f instanceof Global g)) throw error("cannot call " + describe(f));
        if (!(argsObj instanceof List<?> args)) throw error("arguments of " + g.full() + " are not a tuple");
        switch (g.full()) {
            case "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_tensor" -> {
                if (args.size() < 4) throw error(g.full() + " needs at least 4 arguments, got " + args.size());
                return tensor(args.get(0), args.get(1), args.get(2), args.get(3));
            }
            case "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state" -> {
                if (args.isEmpty() || !(args.get(0) instanceof StoredTensor t)) throw error(g.full() + " without a tensor");
                return t;
            }
            case "collections.OrderedDict" -> {
                Map<Object, Object> m = new LinkedHashMap<>();
                if (!args.isEmpty() && args.get(0) instanceof List<?> pairs) {
                    for (Object p : pairs) {
                        if (!(p instanceof List<?> kv) || kv.size() != 2) throw error("OrderedDict item is not a pair");
                        m.put(kv.get(0), kv.get(1));
                    }
                }
                return m;
            }
            case "torch.device" -> {
                StringBuilder sb = new StringBuilder();
                for (Object a : args) sb.append(sb.length() == 0 ? "" : ":").append(a);
                return sb.toString();
            }
            case "torch.Size" -> {
                if (args.size() != 1 || !(args.get(0) instanceof List<?> dims)) throw error("torch.Size needs one tuple");
                return dims;
            }
            case "_codecs.encode" -> {
                if (args.isEmpty() || !(args.get(0) instanceof String s)) throw error("_codecs.encode needs a string");
                return s.getBytes(StandardCharsets.ISO_8859_1);
            }
            default -> throw error("cannot call " + g.full());
        }
    }

    private Object newObject(Object cls, Object args) {
        if (cls instanceof Global g && g.full().equals("collections.OrderedDict")) return new LinkedHashMap<>();
        throw error("refusing to instantiate " + describe(cls));
    }

    private void build(Object state, Object target) {
        // torch state dicts are OrderedDicts carrying a `_metadata` attribute (module versions): dropped
        if (!(target instanceof Map<?, ?>)) throw error("BUILD on " + describe(target));
    }

    private Object persistentLoad(Object pid) {
        if (!(pid instanceof List<?> id) || id.isEmpty() || !"storage".equals(id.get(0))) {
            throw error("unsupported persistent id " + (pid instanceof List<?> l && !l.isEmpty() ? l.get(0) : describe(pid))
                        + " (only tensor storages are accepted)");
        }
        if (id.size() < 5 || !(id.get(1) instanceof StorageType type) || !(id.get(4) instanceof Long numel)) {
            throw error("malformed storage id " + id);
        }
        if (id.size() > 5 && id.get(5) != null) throw error("storage views (legacy view_metadata) are not supported");
        return storages.load(type.dtype(), String.valueOf(id.get(2)), numel);
    }

    private StoredTensor tensor(Object storageObj, Object offsetObj, Object sizeObj, Object strideObj) {
        if (!(storageObj instanceof Storage s)) throw error("tensor without a storage (" + describe(storageObj) + ")");
        long offset = asLong(offsetObj, "storage offset");
        int[] shape = ints(sizeObj, "size");
        long[] stride = new long[shape.length];
        if (!(strideObj instanceof List<?> st) || st.size() != shape.length) throw error("stride does not match size " + Arrays.toString(shape));
        for (int i = 0; i < shape.length; i++) stride[i] = asLong(st.get(i), "stride");
        return new StoredTensor(s.dtype(), shape, stride, offset, s.bytes(), s.order(), s.data(), s.source());
    }

    private int[] ints(Object o, String what) {
        if (!(o instanceof List<?> l)) throw error(what + " is not a tuple");
        int[] out = new int[l.size()];
        for (int i = 0; i < out.length; i++) {
            long v = asLong(l.get(i), what);
            if (v < 0 || v > Integer.MAX_VALUE) throw error(what + " dimension " + v + " out of range");
            out[i] = (int) v;
        }
        return out;
    }

    private long asLong(Object o, String what) {
        if (!(o instanceof Long l)) throw error(what + " is not an int (" + describe(o) + ")");
        return l;
    }
}
