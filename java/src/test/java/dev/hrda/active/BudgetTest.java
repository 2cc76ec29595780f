package dev.hrda.active;

import dev.hrda.data.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Budget parsing and the per-round counts of build.py (golden/ripu/budgets.json from tools/ripu_reference.py). */
class BudgetTest {
    @Test
    void perRoundCountsMatchTheOfficialFormulas() throws IOException {
        List<?> rows = (List<?>) Json.parse(Files.readString(Path.of("src/test/resources/golden/ripu/budgets.json")));
        assertTrue(rows.size() > 300);
        for (Object o : rows) {
            Map<?, ?> r = (Map<?, ?>) o;
            double v = ((Number) r.get("value")).doubleValue();
            Budget b = r.get("kind").equals("ratio") ? Budget.ratio(v) : Budget.pixels((int) v);
            int k = r.containsKey("k") ? ((Number) r.get("k")).intValue() : 0;
            int got = b.picksPerRound(((Number) r.get("h")).intValue(), ((Number) r.get("w")).intValue(),
                                      ((Number) r.get("rounds")).intValue(), k);
            assertEquals(((Number) r.get("n")).intValue(), got, r.toString());
        }
    }

    @Test
    void cityscapesNumbersOfTheSpec() {
        assertEquals(1026, Budget.parse("2.2%").picksPerRound(1024, 2048, 5, 1));
        assertEquals(2331, Budget.parse("5%").picksPerRound(1024, 2048, 5, 1));
        assertEquals(21, Budget.parse("40px").picksPerRound(1024, 2048, 5, 32));
    }

    @Test
    void parsesPercentagesAndPixelCounts() {
        Budget ra = Budget.parse(" 2.2% ");
        assertEquals(Budget.Kind.RATIO, ra.kind());
        assertEquals(0.022, ra.value());  // the config literal, not 2.2 / 100
        assertEquals(RegionSelector.regions(1), ra.selector(1));
        Budget pa = Budget.parse("40px");
        assertEquals(Budget.Kind.PIXELS, pa.kind());
        assertEquals(40, pa.value());
        assertEquals(RegionSelector.pixels(32), pa.selector(32));
        assertEquals(0.05, Budget.parse("5%").value());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "2.2", "abc", "-1%", "0%", "0px", "120%", "1.5px", "2.2 %%", "40 pixels", "1e3px"})
    void badStringsNameTheValue(String s) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Budget.parse(s));
        assertTrue(e.getMessage().contains("'" + s.trim() + "'") || e.getMessage().contains("'" + s + "'"), e.getMessage());
    }

    @Test
    void badResolutionArguments() {
        Budget b = Budget.parse("2.2%");
        assertThrows(IllegalArgumentException.class, () -> b.picksPerRound(0, 10, 5, 1));
        assertThrows(IllegalArgumentException.class, () -> b.picksPerRound(10, 10, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> b.picksPerRound(10, 10, 5, -1));
        assertThrows(IllegalArgumentException.class, () -> Budget.parse(null));
    }
}
