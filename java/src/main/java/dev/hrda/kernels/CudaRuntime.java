package dev.hrda.kernels;

import org.bytedeco.javacpp.Loader;

import java.nio.charset.StandardCharsets;

/**
 * Probes CUDA without ever crashing the JVM: loads libhrda_cuda (and libcudart.so.13), counts
 * devices, and explains in words why CUDA is unusable where it is.
 */
public final class CudaRuntime {
    /** Outcome of the probe: usable, or the reason it is not. */
    public record Probe(boolean usable, String reason, int deviceCount, int runtimeVersion, int driverVersion,
                        String buildInfo) {}

    private static Probe cached;

    private CudaRuntime() {}

    public static synchronized Probe probe() {
        if (cached == null) cached = doProbe();
        return cached;
    }

    private static Probe doProbe() {
        try {
            Loader.load(CudaKernels.class);
        } catch (Throwable t) {
            return new Probe(false, "cannot load the CUDA library libhrda_cuda/libcudart.so.13 (" + t.getMessage()
                                    + "); searched CUDA_HOME, /usr/local/cuda*/lib64 and LD_LIBRARY_PATH", 0, 0, 0, "");
        }
        String build = CudaKernels.hrda_cuda_build_info().getString();
        int[] count = new int[1];
        int rc = CudaKernels.hrda_cuda_device_count(count);
        int[] rt = new int[1], drv = new int[1];
        CudaKernels.hrda_cuda_versions(rt, drv);
        if (rc != 0) {
            String msg = CudaKernels.hrda_cuda_last_error().getString();
            String why = switch (rc) {
                case 4 -> msg;
                default -> "CUDA is not usable: " + msg + (drv[0] == 0 ? " (no NVIDIA driver found)"
                        : drv[0] < rt[0] ? " (driver supports CUDA " + version(drv[0]) + ", runtime is " + version(rt[0]) + ")" : "");
            };
            return new Probe(false, why, 0, rt[0], drv[0], build);
        }
        if (count[0] == 0) return new Probe(false, "no CUDA device found", 0, rt[0], drv[0], build);
        return new Probe(true, "", count[0], rt[0], drv[0], build);
    }

    public static String version(int v) {
        return v <= 0 ? "none" : (v / 1000) + "." + (v % 1000) / 10;
    }

    /** Name, total memory, compute capability and SM count of a device. */
    public record DeviceInfo(String name, long totalMemory, int ccMajor, int ccMinor, int smCount) {}

    public static DeviceInfo deviceInfo(int device) {
        byte[] name = new byte[256];
        long[] mem = new long[1];
        int[] maj = new int[1], min = new int[1], sms = new int[1];
        int rc = CudaKernels.hrda_cuda_device_info(device, name, name.length, mem, maj, min, sms);
        if (rc != 0) throw new NativeException("device_info", rc, CudaKernels.hrda_cuda_last_error().getString());
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        return new DeviceInfo(new String(name, 0, len, StandardCharsets.UTF_8), mem[0], maj[0], min[0], sms[0]);
    }
}
