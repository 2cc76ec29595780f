package dev.hrda.config;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import dev.hrda.data.Json;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;

/** The merged config as YAML text (Jackson), with a header naming the file and the overrides. */
final class ConfigYaml {
    private ConfigYaml() {}

    private static final YAMLMapper MAPPER = YAMLMapper.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .enable(YAMLGenerator.Feature.INDENT_ARRAYS_WITH_INDICATOR)
            .enable(YAMLGenerator.Feature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
            .addModule(new SimpleModule().addSerializer(Double.class, new StdSerializer<>(Double.class) {
                @Override
                public void serialize(Double v, JsonGenerator g, SerializerProvider p) throws IOException {
                    if (v.isNaN()) g.writeNumber(".nan");
                    else if (v.isInfinite()) g.writeNumber(v > 0 ? ".inf" : "-.inf");
                    else g.writeNumber(Json.pythonFloat(v));  // 6e-05, 0.999: reads back as the same double
                }
            }))
            .build();

    static String dump(Node.Dict tree, Path file, List<String> cfgOptions) {
        StringBuilder sb = new StringBuilder("# ").append(Origin.display(file)).append(" merged with its _base_ files (hrda-java)\n");
        for (String o : cfgOptions) sb.append("# --cfg-options ").append(o).append('\n');
        try {
            return sb.append(MAPPER.writeValueAsString(tree.plain())).toString();
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
