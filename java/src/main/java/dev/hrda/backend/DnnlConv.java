package dev.hrda.backend;

import dev.hrda.kernels.Ptr;
import dev.hrda.tensor.DType;
import dev.hrda.tensor.Tensor;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc;
import org.bytedeco.dnnl.dnnl_post_ops;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.bytedeco.dnnl.global.dnnl;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.dnnl.global.dnnl.*;

/**
 * f32 convolutions on oneDNN (the library PyTorch's CPU convolutions run on), for
 * {@link CpuBackend}: forward (with the bias), backward-data and backward-weights (with the bias
 * gradient), any stride, padding, dilation and groups.
 *
 * The engine's tensors are plain NCHW / OIHW. Each primitive is created with
 * {@code format_tag::any}, so oneDNN picks the layout its fastest kernel wants (nChw16c and
 * blocked weights with AVX-512), and the reorders to and from it run inside the call and are
 * counted in its time. Outputs that accumulate (the input gradient with {@code acc}, the weight
 * and bias gradients always) are computed into a temporary and added by the reorder back to the
 * user layout (a reorder with a sum post-op): one pass, no separate add. Temporaries and the
 * scratchpad (user mode) are engine tensors, so {@code MemoryStats} sees them; nothing outside
 * the primitives' own code caches memory here.
 *
 * A plan (primitive, layouts, reorders) is made once per geometry and direction and kept until
 * {@link #close()}. Geometries oneDNN has no implementation for, and the ones that would need a
 * negative right padding (PyTorch's floor rule with a kernel that overhangs on the left only),
 * answer false, and the caller uses the im2col path; so do depthwise geometries that oneDNN would
 * run as grouped GEMMs (dilated ones), for which the direct depthwise kernels are faster. oneDNN's CPU primitives sum in a fixed
 * order for a given thread count and ISA: same inputs, same bits.
 */
final class DnnlConv implements AutoCloseable {
    /** Why oneDNN is not used, or null when it is. */
    private static final String UNAVAILABLE = probe();

    enum Dir { FORWARD, BACKWARD_DATA, BACKWARD_WEIGHTS }

    private record Key(ConvSpec s, Dir dir, boolean bias) {}

    private final Backend be;
    private final dnnl_engine engine = new dnnl_engine();
    private final dnnl_stream stream = new dnnl_stream();
    private final Map<Key, Plan> plans = new HashMap<>();
    /** Every oneDNN object made, destroyed in reverse order by close(). */
    private final List<Pointer> owned = new ArrayList<>();
    private boolean closed;

    private DnnlConv(Backend be) {
        this.be = be;
        ok(dnnl_engine_create(engine, dnnl_cpu, 0), "engine_create");
        ok(dnnl_stream_create(stream, engine, dnnl_stream_default_flags), "stream_create");
    }

    /**
     * oneDNN for the backend, or null where it is not to be used: {@code -Dhrda.cpu.conv=im2col},
     * or the dnnl preset missing or failing to load (a bundle without it).
     */
    static DnnlConv createOrNull(Backend be) {
        return UNAVAILABLE == null ? new DnnlConv(be) : null;
    }

    /** Why oneDNN is not used (null when it is). */
    static String unavailableReason() { return UNAVAILABLE; }

    private static String probe() {
        String mode = System.getProperty("hrda.cpu.conv", "dnnl");
        if (mode.equals("im2col")) return "-Dhrda.cpu.conv=im2col";
        if (!mode.equals("dnnl")) throw new IllegalArgumentException("-Dhrda.cpu.conv must be dnnl or im2col, not " + mode);
        try {
            Loader.load(dnnl.class);
            return null;
        } catch (Throwable t) {  // NoClassDefFoundError (preset absent), UnsatisfiedLinkError (natives absent)
            return "oneDNN not loaded: " + t;
        }
    }

    /** "oneDNN 3.11.0 (avx512_core)" for the backend's description. */
    String describe() {
        var v = dnnl_version();
        return "oneDNN " + v.major() + "." + v.minor() + "." + v.patch() + " (" + isaName(dnnl_get_effective_cpu_isa()) + ")";
    }

    private static String isaName(int isa) {
        if (isa == dnnl_cpu_isa_avx512_core_amx) return "avx512_core_amx";
        if (isa == dnnl_cpu_isa_avx512_core_bf16) return "avx512_core_bf16";
        if (isa == dnnl_cpu_isa_avx512_core_vnni) return "avx512_core_vnni";
        if (isa == dnnl_cpu_isa_avx512_core) return "avx512_core";
        if (isa == dnnl_cpu_isa_avx2_vnni) return "avx2_vnni";
        if (isa == dnnl_cpu_isa_avx2) return "avx2";
        if (isa == dnnl_cpu_isa_avx) return "avx";
        if (isa == dnnl_cpu_isa_sse41) return "sse41";
        return "isa " + isa;
    }

    // ---- the three directions: false = no oneDNN implementation, use the fallback ----

    /** y = conv(x, w) + bias (bias may be null). */
    synchronized boolean forward(ConvSpec s, Tensor x, Tensor w, Tensor bias, Tensor y) {
        Plan p = plan(new Key(s, Dir.FORWARD, bias != null));
        if (p == null) return false;
        p.run(new long[] {x.address(), w.address(), bias == null ? 0 : bias.address(), y.address()}, false);
        return true;
    }

    /** dx (+)= conv^T(dy, w). */
    synchronized boolean backwardData(ConvSpec s, Tensor dy, Tensor w, Tensor dx, boolean acc) {
        Plan p = plan(new Key(s, Dir.BACKWARD_DATA, false));
        if (p == null) return false;
        p.run(new long[] {dy.address(), w.address(), dx.address()}, acc);
        return true;
    }

    /** dw += dW, dbias += dB (dbias may be null). */
    synchronized boolean backwardWeights(ConvSpec s, Tensor x, Tensor dy, Tensor dw, Tensor dbias) {
        Plan p = plan(new Key(s, Dir.BACKWARD_WEIGHTS, dbias != null));
        if (p == null) return false;
        p.run(new long[] {x.address(), dy.address(), dw.address(), dbias == null ? 0 : dbias.address()}, true);
        return true;
    }

    /** The implementation oneDNN chose for a geometry and direction ("brg_conv_fwd:avx512_core", ...), or null. */
    synchronized String implementation(ConvSpec s, Dir dir, boolean bias) {
        Plan p = plan(new Key(s, dir, bias));
        return p == null ? null : p.impl;
    }

    // ---- plans ----

    private Plan plan(Key k) {
        if (closed) throw new IllegalStateException("oneDNN convolutions closed");
        if (plans.containsKey(k)) return plans.get(k);
        Plan p = makePlan(k);
        // oneDNN runs dilated depthwise convolutions as grouped GEMMs (x64:gemm:jit, 0.2 GFLOP/s for
        // the weight gradient of DAFormer's ASPP): our direct depthwise kernels are faster there; and
        // the jit_dw kernel it picks for some dilations (6 in the ASPP) is no faster than ours either
        // (ConvBench daformer_mitb0 512: 83 vs 40 ms forward) and reorders the whole input and output
        // into temporaries: every dilated depthwise convolution runs on the direct kernels
        if (p != null && k.s().depthwise() && (p.impl.contains("gemm") || k.s().dilH() > 1 || k.s().dilW() > 1)) p = null;
        plans.put(k, p);
        return p;
    }

    /** A reorder primitive and its scratchpad (user-managed, like the convolutions'). */
    private final class Reorder {
        final dnnl_primitive prim = new dnnl_primitive();
        final long scratch;
        final dnnl_memory scratchMem;

        Reorder(dnnl_memory_desc from, dnnl_memory_desc to, boolean add) {
            dnnl_primitive_attr attr = attr(add);
            dnnl_primitive_desc pd = new dnnl_primitive_desc();
            try {
                ok(dnnl_reorder_primitive_desc_create(pd, from, engine, to, engine, attr), "reorder_primitive_desc_create");
                dnnl_memory_desc smd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
                scratch = dnnl_memory_desc_get_size(smd);
                scratchMem = scratch > 0 ? memory(smd) : null;
                ok(dnnl_primitive_create(prim, pd), "primitive_create (reorder)");
                owned.add(prim);
            } finally {
                dnnl_primitive_attr_destroy(attr);
                if (!pd.isNull()) dnnl_primitive_desc_destroy(pd);
            }
        }
    }

    /** One argument of a primitive: the user's layout, the primitive's, and the reorders between them. */
    private final class Arg {
        final int id;
        final boolean output;
        final dnnl_memory_desc user, prim;
        final boolean same;
        final long primBytes;
        final dnnl_memory userMem, primMem;
        /** Inputs: user -> prim; outputs: prim -> user (null when the layouts are the same). */
        final Reorder reorder;
        /** Outputs: prim -> user adding to user; made on first use. */
        Reorder reorderAdd;

        Arg(int id, boolean output, dnnl_memory_desc user, dnnl_memory_desc prim) {
            this.id = id;
            this.output = output;
            this.user = user;
            this.prim = prim;
            this.same = dnnl_memory_desc_equal(user, prim) == 1;
            this.primBytes = dnnl_memory_desc_get_size(prim);
            userMem = memory(user);
            primMem = memory(prim);
            reorder = same ? null : output ? new Reorder(prim, user, false) : new Reorder(user, prim, false);
        }

        Reorder addReorder() {
            if (reorderAdd == null) reorderAdd = new Reorder(prim, user, true);
            return reorderAdd;
        }
    }

    private dnnl_memory memory(dnnl_memory_desc md) {
        dnnl_memory m = new dnnl_memory();
        ok(dnnl_memory_create(m, md, engine, (Pointer) null), "memory_create");
        owned.add(m);
        return m;
    }

    /** User-managed scratchpad, and dst += result when add. */
    private static dnnl_primitive_attr attr(boolean add) {
        dnnl_primitive_attr attr = new dnnl_primitive_attr();
        ok(dnnl_primitive_attr_create(attr), "primitive_attr_create");
        ok(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "set_scratchpad_mode");
        if (add) {
            dnnl_post_ops po = new dnnl_post_ops();
            ok(dnnl_post_ops_create(po), "post_ops_create");
            ok(dnnl_post_ops_append_sum(po, 1.0f, 0, dnnl_data_type_undef), "post_ops_append_sum");
            ok(dnnl_primitive_attr_set_post_ops(attr, po), "set_post_ops");
            dnnl_post_ops_destroy(po);
        }
        return attr;
    }

    private final class Plan {
        final dnnl_primitive conv;
        final Arg[] args;
        final long scratch;
        final String impl;
        final dnnl_exec_arg_t exec;
        final dnnl_exec_arg_t reorderExec = new dnnl_exec_arg_t(3);
        final dnnl_memory scratchMem;

        Plan(dnnl_primitive_desc pd, Arg[] args) {
            this.args = args;
            this.scratch = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
            PointerPointer<BytePointer> out = new PointerPointer<>(1);
            ok(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, out), "query impl_info_str");
            this.impl = out.get(BytePointer.class, 0).getString();
            out.close();
            conv = new dnnl_primitive();
            ok(dnnl_primitive_create(conv, pd), "primitive_create (convolution)");
            owned.add(conv);
            exec = new dnnl_exec_arg_t(args.length + 1);
            owned.add(exec);
            owned.add(reorderExec);
            scratchMem = scratch > 0 ? memory(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0)) : null;
        }

        /** Addresses in the order of args (0: an argument absent, e.g. no bias); outputs added when acc. */
        void run(long[] addr, boolean acc) {
            List<Tensor> temps = new ArrayList<>(4);
            try {
                long[] primAddr = new long[args.length];
                for (int i = 0; i < args.length; i++) {
                    Arg a = args[i];
                    if (addr[i] == 0) continue;
                    if (a.same && !(a.output && acc)) {
                        primAddr[i] = addr[i];
                        continue;
                    }
                    primAddr[i] = temp(temps, a.primBytes);
                    if (!a.output) reorder(a.reorder, a.userMem, addr[i], a.primMem, primAddr[i], temps);
                }
                int n = 0;
                for (int i = 0; i < args.length; i++) {
                    if (addr[i] == 0) continue;
                    Arg a = args[i];
                    ok(dnnl_memory_set_data_handle(a.primMem, Ptr.raw(primAddr[i])), "set_data_handle");
                    exec.position(n++).arg(a.id).memory(a.primMem);
                }
                if (scratch > 0) {
                    ok(dnnl_memory_set_data_handle(scratchMem, Ptr.raw(temp(temps, scratch))), "set_data_handle");
                    exec.position(n++).arg(DNNL_ARG_SCRATCHPAD).memory(scratchMem);
                }
                ok(dnnl_primitive_execute(conv, stream, n, exec.position(0)), "convolution execute");
                for (int i = 0; i < args.length; i++) {
                    Arg a = args[i];
                    if (addr[i] == 0 || !a.output || primAddr[i] == addr[i]) continue;
                    reorder(acc ? a.addReorder() : a.reorder, a.primMem, primAddr[i], a.userMem, addr[i], temps);
                }
                ok(dnnl_stream_wait(stream), "stream_wait");
            } finally {
                for (int i = temps.size() - 1; i >= 0; i--) temps.get(i).close();
            }
        }

        private void reorder(Reorder r, dnnl_memory from, long fromAddr, dnnl_memory to, long toAddr, List<Tensor> temps) {
            ok(dnnl_memory_set_data_handle(from, Ptr.raw(fromAddr)), "set_data_handle");
            ok(dnnl_memory_set_data_handle(to, Ptr.raw(toAddr)), "set_data_handle");
            reorderExec.position(0).arg(DNNL_ARG_FROM).memory(from);
            reorderExec.position(1).arg(DNNL_ARG_TO).memory(to);
            int n = 2;
            if (r.scratch > 0) {
                ok(dnnl_memory_set_data_handle(r.scratchMem, Ptr.raw(temp(temps, r.scratch))), "set_data_handle");
                reorderExec.position(2).arg(DNNL_ARG_SCRATCHPAD).memory(r.scratchMem);
                n = 3;
            }
            ok(dnnl_primitive_execute(r.prim, stream, n, reorderExec.position(0)), "reorder execute");
        }

        private long temp(List<Tensor> temps, long bytes) {
            Tensor t = Tensor.empty(be, DType.F32, Math.toIntExact((bytes + 3) / 4));
            temps.add(t);
            return t.address();
        }
    }

    private dnnl_memory_desc md(long[] dims, int tag) {
        dnnl_memory_desc m = new dnnl_memory_desc();
        ok(dnnl_memory_desc_create_with_tag(m, dims.length, dims, dnnl_f32, tag), "memory_desc_create_with_tag");
        owned.add(m);
        return m;
    }

    private Plan makePlan(Key k) {
        ConvSpec s = k.s();
        int g = s.groups();
        long[] src = {s.n(), s.c(), s.h(), s.w()};
        long[] dst = {s.n(), s.k(), s.outH(), s.outW()};
        long[] wts = g == 1 ? new long[] {s.k(), s.c(), s.kh(), s.kw()}
                            : new long[] {g, s.k() / g, s.c() / g, s.kh(), s.kw()};
        long[] bias = {s.k()};
        long[] strides = {s.strideH(), s.strideW()};
        long[] dil = {s.dilH() - 1, s.dilW() - 1};
        long[] padL = {s.padH(), s.padW()};
        long[] padR = {(long) (s.outH() - 1) * s.strideH() + (long) (s.kh() - 1) * s.dilH() + 1 - s.h() - s.padH(),
                       (long) (s.outW() - 1) * s.strideW() + (long) (s.kw() - 1) * s.dilW() + 1 - s.w() - s.padW()};
        if (padR[0] < 0 || padR[1] < 0) return null;
        dnnl_memory_desc srcU = md(src, dnnl_nchw), dstU = md(dst, dnnl_nchw), wU = md(wts, g == 1 ? dnnl_oihw : dnnl_goihw);
        dnnl_memory_desc srcA = md(src, dnnl_format_tag_any), dstA = md(dst, dnnl_format_tag_any);
        dnnl_memory_desc wA = md(wts, dnnl_format_tag_any), bU = md(bias, dnnl_a);
        boolean withBias = k.bias();
        dnnl_primitive_attr attr = attr(false);
        dnnl_primitive_desc fwd = new dnnl_primitive_desc();
        try {
            int st = dnnl_convolution_forward_primitive_desc_create(fwd, engine, dnnl_forward_training, dnnl_convolution_direct,
                    srcA, wA, withBias && k.dir() == Dir.FORWARD ? bU : null, dstA, strides, dil, padL, padR, attr);
            if (st == dnnl_unimplemented) return null;
            ok(st, "convolution_forward_primitive_desc_create " + s);
            switch (k.dir()) {
                case FORWARD: {
                    Arg[] args = {
                        new Arg(DNNL_ARG_SRC, false, srcU, queryMd(fwd, dnnl_query_src_md)),
                        new Arg(DNNL_ARG_WEIGHTS, false, wU, queryMd(fwd, dnnl_query_weights_md)),
                        new Arg(DNNL_ARG_BIAS, false, bU, withBias ? queryMd(fwd, dnnl_query_weights_md, 1) : bU),
                        new Arg(DNNL_ARG_DST, true, dstU, queryMd(fwd, dnnl_query_dst_md))};
                    return new Plan(fwd, args);
                }
                case BACKWARD_DATA: {
                    dnnl_primitive_desc pd = new dnnl_primitive_desc();
                    st = dnnl_convolution_backward_data_primitive_desc_create(pd, engine, dnnl_convolution_direct, srcA, wA, dstA,
                            strides, dil, padL, padR, fwd, attr);
                    if (st == dnnl_unimplemented) return null;
                    ok(st, "convolution_backward_data_primitive_desc_create " + s);
                    Arg[] args = {
                        new Arg(DNNL_ARG_DIFF_DST, false, dstU, queryMd(pd, dnnl_query_diff_dst_md)),
                        new Arg(DNNL_ARG_WEIGHTS, false, wU, queryMd(pd, dnnl_query_weights_md)),
                        new Arg(DNNL_ARG_DIFF_SRC, true, srcU, queryMd(pd, dnnl_query_diff_src_md))};
                    Plan p = new Plan(pd, args);
                    dnnl_primitive_desc_destroy(pd);
                    return p;
                }
                default: {
                    dnnl_primitive_desc pd = new dnnl_primitive_desc();
                    st = dnnl_convolution_backward_weights_primitive_desc_create(pd, engine, dnnl_convolution_direct, srcA, wA,
                            withBias ? bU : null, dstA, strides, dil, padL, padR, fwd, attr);
                    if (st == dnnl_unimplemented) return null;
                    ok(st, "convolution_backward_weights_primitive_desc_create " + s);
                    Arg[] args = {
                        new Arg(DNNL_ARG_SRC, false, srcU, queryMd(pd, dnnl_query_src_md)),
                        new Arg(DNNL_ARG_DIFF_DST, false, dstU, queryMd(pd, dnnl_query_diff_dst_md)),
                        new Arg(DNNL_ARG_DIFF_WEIGHTS, true, wU, queryMd(pd, dnnl_query_diff_weights_md)),
                        new Arg(DNNL_ARG_DIFF_BIAS, true, bU, withBias ? queryMd(pd, dnnl_query_diff_weights_md, 1) : bU)};
                    Plan p = new Plan(pd, args);
                    dnnl_primitive_desc_destroy(pd);
                    return p;
                }
            }
        } finally {
            dnnl_primitive_attr_destroy(attr);
            if (!fwd.isNull()) dnnl_primitive_desc_destroy(fwd);
        }
    }

    /** A copy of the primitive's layout for an argument (the descriptor outlives the primitive desc). */
    private dnnl_memory_desc queryMd(dnnl_primitive_desc pd, int what) {
        return queryMd(pd, what, 0);
    }

    private dnnl_memory_desc queryMd(dnnl_primitive_desc pd, int what, int index) {
        dnnl_memory_desc c = new dnnl_memory_desc();
        ok(dnnl_memory_desc_clone(c, dnnl_primitive_desc_query_md(pd, what, index)), "memory_desc_clone");
        owned.add(c);
        return c;
    }

    private static void ok(int status, String what) {
        if (status != dnnl_success) throw new IllegalStateException("oneDNN " + what + ": status " + status);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (int i = owned.size() - 1; i >= 0; i--) {
            Pointer p = owned.get(i);
            if (p instanceof dnnl_primitive q) dnnl_primitive_destroy(q);
            else if (p instanceof dnnl_memory q) dnnl_memory_destroy(q);
            else if (p instanceof dnnl_memory_desc q) dnnl_memory_desc_destroy(q);
            else p.close();
        }
        owned.clear();
        plans.clear();
        dnnl_stream_destroy(stream);
        dnnl_engine_destroy(engine);
    }
}
