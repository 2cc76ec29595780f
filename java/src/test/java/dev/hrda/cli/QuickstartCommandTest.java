package dev.hrda.cli;

import dev.hrda.testing.Cli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** README's main command, shortened to two iterations a run: draws the data, trains both runs, prints the comparison. */
class QuickstartCommandTest {
    @TempDir
    Path dir;

    @Test
    void drawsTrainsBothRunsAndPrintsBothTargetMious() {
        Path data = dir.resolve("synth"), work = dir.resolve("work");
        Cli.Run r = Cli.run("quickstart", "--iters", "2", "--data", data.toString(), "--work-dir", work.toString(), "--configs", "../configs", "-q");
        assertEquals(0, r.status(), r.err() + r.out());
        assertTrue(Files.isRegularFile(data.resolve("synth.json")), "the benchmark was drawn");
        for (String run : new String[] {"synth_srconly_daformer_small", "synth_dacs_daformer_small"}) {
            assertTrue(Files.isRegularFile(work.resolve(run).resolve("iter_2.pth")), run + " checkpoint: " + r.out());
        }
        Matcher m = Pattern.compile("target mIoU: source-only (\\d+\\.\\d\\d), DACS (\\d+\\.\\d\\d) \\(([+-]\\d+\\.\\d\\d)\\)").matcher(r.out());
        assertTrue(m.find(), r.out());
        double src = Double.parseDouble(m.group(1)), dacs = Double.parseDouble(m.group(2));
        assertEquals(dacs - src, Double.parseDouble(m.group(3)), 0.011, "the printed gain is the difference");
        // the per-class table: the 19 Cityscapes classes and the mean row, whose values are the summary's
        assertTrue(r.out().contains("traffic light"), r.out());
        Matcher row = Pattern.compile("mIoU\\s+(\\d+\\.\\d\\d)\\s+(\\d+\\.\\d\\d)").matcher(r.out());
        assertTrue(row.find(), r.out());
        assertEquals(src, Double.parseDouble(row.group(1)), 1e-9);
        assertEquals(dacs, Double.parseDouble(row.group(2)), 1e-9);
    }

    @Test
    void refusesADirectoryThatIsNotConfigs() {
        Cli.Run r = Cli.run("quickstart", "--configs", dir.toString(), "--iters", "1");
        assertEquals(1, r.status());
        assertTrue(r.err().contains("not the project's configs/"), r.err());
    }
}
