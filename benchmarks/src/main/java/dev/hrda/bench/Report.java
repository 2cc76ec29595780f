package dev.hrda.bench;

import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.CommandLineOptions;
import org.openjdk.jmh.runner.options.Options;

import java.util.Collection;

/**
 * Runs the JMH benchmarks (same arguments as JMH's own main) and prints achieved throughput:
 * GFLOP/s for GEMM/conv/attention, GB/s for the memory-bound kernels, from the work counts in
 * {@link KernelBench#work} and {@link AttentionBench#work}.
 */
public final class Report {
    public static void main(String[] args) throws Exception {
        Options opts = new CommandLineOptions(args);
        Collection<RunResult> results = new Runner(opts).run();
        System.out.println();
        System.out.printf("%-32s %-6s %-5s %12s %14s%n", "kernel", "device", "dtype", "time (us)", "throughput");
        for (RunResult r : results) {
            String full = r.getParams().getBenchmark();
            String name = full.substring(full.lastIndexOf('.') + 1);
            String dtype = r.getParams().getParam("dtype");
            String shape = r.getParams().getParam("shape");  // AttentionBench's attention shapes
            double us = r.getPrimaryResult().getScore();
            int bytes = "bf16".equals(dtype) ? 2 : 4;
            double work = KernelBench.work(name, bytes);
            boolean flops = name.equals("gemm") || name.startsWith("conv");
            if (Double.isNaN(work)) {
                work = AttentionBench.work(name, shape, bytes);
                flops = AttentionBench.countsFlops(name);
            }
            double rate = work / (us * 1e-6) / 1e9;
            System.out.printf("%-32s %-6s %-5s %12.1f %10.1f %s%n", shape == null ? name : name + " " + shape,
                              r.getParams().getParam("device"), dtype, us, rate, flops ? "GFLOP/s" : "GB/s");
        }
    }
}
