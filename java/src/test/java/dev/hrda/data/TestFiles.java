package dev.hrda.data;

import dev.hrda.testing.Fixtures;
import org.bytedeco.opencv.opencv_core.Mat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/** Helpers for the data tests: the shared fixtures and small files made on the fly. */
final class TestFiles {
    private TestFiles() {}

    /** ../shared/fixtures (system property hrda.fixtures, set by surefire). */
    static Path fixtures() {
        return Fixtures.root();
    }

    /** Copies a fixture directory into dst (tests never write into the fixtures). */
    static Path copyTree(Path src, Path dst) throws IOException {
        try (Stream<Path> s = Files.walk(src)) {
            for (Path p : s.toList()) {
                Path q = dst.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) Files.createDirectories(q);
                else Files.copy(p, q);
            }
        }
        return dst;
    }

    static void writeColor(Path p, byte[] bgr, int w, int h) throws IOException {
        Files.createDirectories(p.getParent());
        try (Mat m = Images.bgrMat(bgr, w, h)) {
            Images.writePng(p, m);
        }
    }

    static void writeGray(Path p, byte[] v, int w, int h) throws IOException {
        Files.createDirectories(p.getParent());
        Images.writeLabelPng(p, v, w, h);
    }

    static byte[] solidBgr(int w, int h, int b, int g, int r) {
        byte[] a = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++) {
            a[i * 3] = (byte) b;
            a[i * 3 + 1] = (byte) g;
            a[i * 3 + 2] = (byte) r;
        }
        return a;
    }

    static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    static List<Path> tempFiles(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).filter(AtomicFiles::isTemp).toList();
        }
    }

    /** Keeps the first n bytes of a file. */
    static void truncate(Path p, int n) throws IOException {
        byte[] b = Files.readAllBytes(p);
        Files.write(p, java.util.Arrays.copyOf(b, Math.min(n, b.length)));
    }
}
