package dev.hrda.train;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The two logs mmseg's runner writes into the work dir, named by the run's start time:
 * {@code <stamp>.log} (mmcv's TextLoggerHook lines, "Iter [50/40000]	lr: ..., eta: ..., time: ...,
 * data_time: ..., memory: ..., decode.loss_seg: ...") and {@code <stamp>.log.json} (one JSON
 * object per line: first the run's {env_info, config, seed, exp_name}, then {"mode": "train" |
 * "val", "epoch": 1, "iter": N, "lr": ..., ...}), which mmseg's tools/analyze_logs.py plots.
 * Lines are flushed as written, so a killed run keeps its log.
 */
final class TrainLog implements AutoCloseable {
    private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd_HHmmss");
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss,SSS");

    final Path text, json;
    private final BufferedWriter textOut, jsonOut;
    private final List<Map<String, Object>> records = new ArrayList<>();

    TrainLog(Path workDir, Map<String, Object> header) {
        String stamp = LocalDateTime.now().format(STAMP);
        text = workDir.resolve(stamp + ".log");
        json = workDir.resolve(stamp + ".log.json");
        try {
            textOut = Files.newBufferedWriter(text, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            jsonOut = Files.newBufferedWriter(json, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the logs in " + workDir + ": " + e.getMessage(), e);
        }
        line(jsonOut, pythonJson(header));
    }

    /** All train and val records written so far (for the plots). */
    List<Map<String, Object>> records() {
        return records;
    }

    /** A message in the text log (mmseg's "time - mmseg - INFO - message"). */
    void info(String message) {
        line(textOut, LocalDateTime.now().format(TIME) + " - mmseg - INFO - " + message);
    }

    /** A train or val record: the JSON line as given, the text line as mmcv formats it. */
    void record(Map<String, Object> r, int maxIters, double etaSeconds) {
        records.add(r);
        line(jsonOut, pythonJson(r));
        StringBuilder sb = new StringBuilder();
        if ("train".equals(r.get("mode"))) {
            sb.append("Iter [").append(r.get("iter")).append('/').append(maxIters).append("]\t");
            sb.append(String.format(Locale.ROOT, "lr: %.3e, eta: %s, ", ((Number) r.get("lr")).doubleValue(), eta(etaSeconds)));
            List<String> parts = new ArrayList<>();
            for (var e : r.entrySet()) {
                if (List.of("mode", "epoch", "iter", "lr").contains(e.getKey())) continue;
                parts.add(e.getKey() + ": " + format(e.getValue()));
            }
            sb.append(String.join(", ", parts));
        } else {
            sb.append("Iter(val) [").append(r.get("iter")).append("]\t");
            List<String> parts = new ArrayList<>();
            for (var e : r.entrySet()) {
                if (List.of("mode", "epoch", "iter", "lr").contains(e.getKey()) || e.getKey().contains("IoU.") || e.getKey().contains("Acc.")) continue;
                parts.add(e.getKey() + ": " + format(e.getValue()));
            }
            sb.append(String.join(", ", parts));
        }
        info(sb.toString());
    }

    /**
     * One flat record as Python's json.dumps writes it (what mmcv's logger writes and
     * analyze_logs.py reads back): NaN and Infinity as bare tokens, as Python does for the IoU of
     * a class absent from the validation set.
     */
    static String pythonJson(Map<String, Object> r) {
        StringBuilder sb = new StringBuilder("{");
        for (var e : r.entrySet()) {
            if (sb.length() > 1) sb.append(", ");
            string(sb, e.getKey());
            sb.append(": ");
            Object v = e.getValue();
            if (v == null) sb.append("null");
            else if (v instanceof Boolean b) sb.append(b ? "true" : "false");
            else if (v instanceof Double d) sb.append(d.isNaN() ? "NaN" : d.isInfinite() ? (d > 0 ? "Infinity" : "-Infinity") : Double.toString(d));
            else if (v instanceof Number n) sb.append(n);
            else string(sb, v.toString());
        }
        return sb.append('}').toString();
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20 || c > 0x7e) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }

    private static String format(Object v) {
        if (v instanceof Double d) return Math.abs(d) >= 1e4 || (d != 0 && Math.abs(d) < 1e-4) ? String.format(Locale.ROOT, "%.4e", d)
                                                                                                   : String.format(Locale.ROOT, "%.4f", d);
        return String.valueOf(v);
    }

    /** mmcv's eta: "1 day, 2:03:04" or "2:03:04". */
    static String eta(double seconds) {
        long s = Math.max(0, Math.round(seconds)), d = s / 86400;
        String hms = String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600 % 24, s / 60 % 60, s % 60);
        return d > 0 ? d + (d == 1 ? " day, " : " days, ") + hms : hms;
    }

    /** A fresh ordered record with mmseg's leading keys. */
    static Map<String, Object> record(String mode, long iter, double lr) {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("mode", mode);
        r.put("epoch", 1);
        r.put("iter", iter);
        r.put("lr", lr);
        return r;
    }

    private static void line(BufferedWriter w, String s) {
        try {
            w.write(s);
            w.write('\n');
            w.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the log: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            textOut.close();
            jsonOut.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
