package dev.hrda.ripu;

import dev.hrda.data.DataException;
import dev.hrda.data.Dataset;
import dev.hrda.data.DatasetKind;
import dev.hrda.data.Pipeline;
import dev.hrda.data.SyntheticData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** RIPU's acquired labels: persisted per image, read back by a resumed run, revealed to the pipeline as GT-or-255. */
class ActiveLabelsTest {
    @Test void masksPersistAcrossRunsAndRevealOnlySelectedPixels(@TempDir Path dir) throws Exception {
        SyntheticData.Summary synth = SyntheticData.write(dir.resolve("data"), 1, 64, 32, 8, 1, true, false);
        Dataset target = Dataset.open(DatasetKind.CITYSCAPES, synth.cityscapesRoot(), "train", true);
        Path work = dir.resolve("work");
        ActiveLabels a = ActiveLabels.open(work, target);
        assertNull(a.selected(0));
        byte[] label = new byte[64 * 32];
        for (int i = 0; i < label.length; i++) label[i] = (byte) (i % 7);
        byte[] l0 = label.clone();
        a.edit(0).apply(l0, 64, 32);
        for (byte b : l0) assertEquals((byte) 255, b, "before any round nothing is labelled");

        Random r = new Random(3);
        byte[] sel = new byte[64 * 32], act = new byte[64 * 32];
        for (int i = 0; i < sel.length; i++) {
            sel[i] = (byte) (r.nextInt(10) == 0 ? 1 : 0);
            act[i] = (byte) (sel[i] == 1 || r.nextInt(4) == 0 ? 1 : 0);
        }
        a.update(1, sel, act, 64, 32);
        assertTrue(Files.isRegularFile(a.file(1, "selected")) && Files.isRegularFile(a.file(1, "active")));
        long n = 0;
        for (byte b : sel) n += b;
        assertEquals(n, a.selectedPixels());

        ActiveLabels again = ActiveLabels.open(work, target);  // a resumed run
        assertArrayEquals(sel, again.selected(1));
        assertArrayEquals(act, again.active(1));
        assertNull(again.selected(0));
        byte[] l1 = label.clone();
        again.edit(1).apply(l1, 64, 32);
        for (int i = 0; i < l1.length; i++) assertEquals(sel[i] == 1 ? label[i] : (byte) 255, l1[i], "pixel " + i);

        Pipeline.LabelEdit wrongSize = again.edit(1);
        DataException e = assertThrows(DataException.class, () -> wrongSize.apply(new byte[32 * 32], 32, 32));
        assertTrue(e.getMessage().contains("_selected.png"), e.getMessage());
        Files.delete(again.file(1, "active"));
        e = assertThrows(DataException.class, () -> ActiveLabels.open(work, target));
        assertTrue(e.getMessage().contains("is missing while its pair exists"), e.getMessage());
    }
}
