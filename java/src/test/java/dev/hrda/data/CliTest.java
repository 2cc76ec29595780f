package dev.hrda.data;

import dev.hrda.testing.Cli.Run;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.hrda.testing.Cli.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The data commands through the CLI entry point. */
class CliTest {
    @Test
    void synthConvertAndCheck(@TempDir Path tmp) throws Exception {
        Run s = run("synth", "--out", tmp.toString(), "--size", "128x64", "--count", "8", "--seed", "4", "-q");
        assertEquals(0, s.status(), s.err());
        assertTrue(s.out().contains("8 images 128x64"), s.out());
        Path gta = tmp.resolve("gta");
        Run c = run("convert", "gta", gta.toString(), "--nproc", "2", "-q");
        assertEquals(0, c.status(), c.err());
        assertTrue(c.out().contains("8 up to date"), c.out());
        Run ok = run("data", "check", "cityscapes", tmp.resolve("cityscapes").toString(), "-q");
        assertEquals(0, ok.status(), ok.out() + ok.err());
        assertTrue(ok.out().contains("0 problem(s)"), ok.out());

        // break things: an image without label, a label without image, a truncated image
        Files.delete(gta.resolve("labels/00002_labelTrainIds.png"));
        Files.delete(gta.resolve("labels/00002.png"));
        Files.delete(gta.resolve("images/00003.png"));
        TestFiles.truncate(gta.resolve("images/00004.png"), 100);
        Run bad = run("data", "check", "gta", gta.toString(), "-q");
        assertEquals(1, bad.status());
        assertTrue(bad.out().contains(gta.resolve("images/00002.png") + ": image without label"), bad.out());
        assertTrue(bad.out().contains(gta.resolve("labels/00003_labelTrainIds.png") + ": label without image"), bad.out());
        assertTrue(bad.out().contains(gta.resolve("images/00004.png") + ": unreadable"), bad.out());

        Run missing = run("convert", "gta", tmp.resolve("none").toString());
        assertEquals(1, missing.status());
        assertTrue(missing.err().contains(tmp.resolve("none") + ": gta data root does not exist"), missing.err());
    }

    @Test
    void convertReportsIgnoredPixels(@TempDir Path tmp) throws Exception {
        Path root = tmp.resolve("gta");
        TestFiles.writeColor(root.resolve("images/00001.png"), TestFiles.solidBgr(4, 1, 0, 0, 0), 4, 1);
        TestFiles.writeGray(root.resolve("labels/00001.png"), new byte[] {7, 99, 99, 0}, 4, 1);
        Run c = run("convert", "gta", root.toString(), "-q");
        assertEquals(0, c.status(), c.err());
        assertTrue(c.out().contains("3 pixels mapped to ignore (255)"), c.out());
        assertTrue(c.out().contains("of which 2 had ids unknown"), c.out());
    }
}
