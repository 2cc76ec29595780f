package dev.hrda.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Untrusted .pth files that nest without bound end in a named refusal, never in a StackOverflowError. */
class HostilePickleTest {
    private static final int DEPTH = 200_000;

    /** A torch.save zip whose data.pkl is {@code pickle}. */
    private static Path pth(Path dir, String name, byte[] pickle) throws IOException {
        Path f = dir.resolve(name);
        try (OutputStream os = Files.newOutputStream(f); ZipOutputStream z = new ZipOutputStream(os)) {
            z.putNextEntry(new ZipEntry("archive/data.pkl"));
            z.write(pickle);
            z.closeEntry();
            z.putNextEntry(new ZipEntry("archive/version"));
            z.write("3\n".getBytes());
            z.closeEntry();
        }
        return f;
    }

    @Test
    void deeplyNestedListsAreRefusedByName(@TempDir Path dir) throws IOException {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(0x80);
        p.write(2);
        for (int i = 0; i < DEPTH; i++) p.write(']');      // EMPTY_LIST
        for (int i = 1; i < DEPTH; i++) p.write('a');      // APPEND: each list into the one below
        p.write('.');
        Path f = pth(dir, "deep_lists.pth", p.toByteArray());
        CheckpointException e = assertThrows(CheckpointException.class, () -> TensorFile.read(f));
        assertTrue(e.getMessage().contains("deep_lists.pth") && e.getMessage().contains("nested more than"), e.getMessage());
    }

    @Test
    void deeplyNestedDictsUnderStateDictAreRefused(@TempDir Path dir) throws IOException {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(0x80);
        p.write(2);
        // {'state_dict': {'k': {'k': ... {} }}}: built inside out with SETITEM
        p.write('}');
        str(p, "state_dict");
        for (int i = 0; i < DEPTH; i++) {
            p.write('}');
            str(p, "k");
        }
        p.write('}');
        for (int i = 0; i < DEPTH; i++) p.write('s');
        p.write('s');
        p.write('.');
        Path f = pth(dir, "deep_dicts.pth", p.toByteArray());
        CheckpointException e = assertThrows(CheckpointException.class, () -> TensorFile.read(f));
        assertTrue(e.getMessage().contains("deep_dicts.pth") && e.getMessage().contains("nested more than"), e.getMessage());
    }

    @Test
    void deepTupleAsDictKeyIsRefusedBeforeHashing(@TempDir Path dir) throws IOException {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.write(0x80);
        p.write(2);
        p.write('}');
        p.write(')');                                      // EMPTY_TUPLE
        for (int i = 0; i < DEPTH; i++) p.write(0x85);     // TUPLE1: (t,)
        p.write('N');
        p.write('s');
        p.write('.');
        Path f = pth(dir, "deep_key.pth", p.toByteArray());
        CheckpointException e = assertThrows(CheckpointException.class, () -> TensorFile.read(f));
        assertTrue(e.getMessage().contains("deep_key.pth") && e.getMessage().contains("tuples deep"), e.getMessage());
    }

    private static void str(ByteArrayOutputStream p, String s) {
        p.write(0x8c);                                     // SHORT_BINUNICODE
        p.write(s.length());
        p.writeBytes(s.getBytes());
    }
}
