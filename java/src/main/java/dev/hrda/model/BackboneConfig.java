package dev.hrda.model;

/** An encoder's configuration: MiT ({@link MitConfig}) or ResNet ({@link ResNetConfig}). */
public sealed interface BackboneConfig permits MitConfig, ResNetConfig {
    String name();

    /** Channels of the four feature maps the encoder returns. */
    int[] channels();
}
