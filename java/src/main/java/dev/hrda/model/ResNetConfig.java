package dev.hrda.model;

import java.util.Arrays;

/**
 * A torchvision ResNet with Bottleneck blocks (expansion 4) as RIPU builds it: output stride 8
 * (replace_stride_with_dilation [False, True, True]: layers 3 and 4 keep stride 1 and dilate
 * 2 and 4), FrozenBatchNorm2d everywhere (ripu_spec.md §3).
 *
 * @param blocks    Bottlenecks per layer: ResNet-50 [3, 4, 6, 3], ResNet-101 [3, 4, 23, 3]
 * @param width     planes of layer1 (64; layer i has width·2^(i−1) planes, 4× that out)
 * @param frozenBn  FrozenBatchNorm2d (RIPU's FREEZE_BN) rather than trainable nn.BatchNorm2d
 */
public record ResNetConfig(String name, int[] blocks, int width, boolean frozenBn) implements BackboneConfig {
    public ResNetConfig {
        if (blocks.length != 4 || Arrays.stream(blocks).anyMatch(b -> b < 1)) {
            throw new IllegalArgumentException(name + ": ResNet needs 4 layers of at least one block, got " + Arrays.toString(blocks));
        }
        if (width < 1) throw new IllegalArgumentException(name + ": width must be positive, got " + width);
    }

    @Override
    public int[] channels() {
        return new int[] {4 * width, 8 * width, 16 * width, 32 * width};
    }

    /** resnet50, resnet101 (torchvision's widths, FrozenBN), and the fixtures' resnet_tiny (width 4, blocks [1, 1, 2, 2]). */
    public static ResNetConfig named(String name) {
        return switch (name) {
            case "resnet50" -> new ResNetConfig(name, new int[] {3, 4, 6, 3}, 64, true);
            case "resnet101" -> new ResNetConfig(name, new int[] {3, 4, 23, 3}, 64, true);
            case "resnet_tiny" -> new ResNetConfig(name, new int[] {1, 1, 2, 2}, 4, true);
            default -> throw new IllegalArgumentException("unknown ResNet '" + name + "' (resnet50, resnet101, resnet_tiny)");
        };
    }
}
