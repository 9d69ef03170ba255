"""A model summary in the style of ``torchinfo``: each layer, its output shape, its parameters, its FLOPs.

Written here in a few lines rather than added as a dependency: one forward pass of a dummy batch with a
hook on every leaf module records what each layer produces.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class LayerRow:
    """One line of the summary."""

    name: str
    """dotted module name, e.g. ``features.0``"""
    kind: str
    """class name, e.g. ``Conv2d``"""
    output_shape: tuple[int, ...]
    """output shape for a batch of one image"""
    parameters: int
    """number of parameters the layer owns"""
    flops: int
    """floating-point operations of its forward pass for one image (a multiply-add counts 2)"""


@dataclass(frozen=True)
class ModelSummary:
    """Every leaf layer of a model, with totals."""

    rows: tuple[LayerRow, ...]
    input_shape: tuple[int, ...]
    total_parameters: int
    trainable_parameters: int

    @property
    def forward_flops(self) -> int:
        """FLOPs of one forward pass for one image (matmuls and convolutions only)."""
        return sum(row.flops for row in self.rows)

    def table(self) -> str:
        """The summary as a fixed-width text table."""
        header = f"{'layer':<24}{'type':<14}{'output shape':<20}{'params':>12}{'MFLOPs':>10}"
        rule = "─" * len(header)
        lines = [rule, header, rule]
        for row in self.rows:
            shape = "(" + ", ".join(str(d) for d in row.output_shape) + ")"
            lines.append(
                f"{row.name:<24}{row.kind:<14}{shape:<20}{row.parameters:>12,}{row.flops / 1e6:>10.2f}"
            )
        lines += [
            rule,
            f"input shape: (1, {', '.join(str(d) for d in self.input_shape)})",
            f"total parameters: {self.total_parameters:,} (trainable: {self.trainable_parameters:,}; "
            f"{self.total_parameters * 4 / 1e6:.2f} MB in float32)",
            f"forward FLOPs per image: {self.forward_flops / 1e6:.2f} M (training ≈ 3× forward)",
            rule,
        ]
        return "\n".join(lines)


def _layer_flops(module: nn.Module, output: torch.Tensor) -> int:
    # a multiply-add is 2 FLOPs; only the layers that dominate the cost are counted
    if isinstance(module, nn.Linear):
        return 2 * module.in_features * module.out_features
    if isinstance(module, nn.Conv2d):
        kernel = module.kernel_size[0] * module.kernel_size[1]
        per_output = 2 * (module.in_channels // module.groups) * kernel
        return per_output * output[0].numel()
    return 0


def summarize(model: nn.Module, image_shape: tuple[int, ...]) -> ModelSummary:
    """Run one image of ``image_shape`` (C, H, W) through ``model`` (in eval mode) and describe each layer."""
    rows: list[LayerRow] = []
    handles = []

    def make_hook(name: str):  # type: ignore[no-untyped-def]
        def hook(module: nn.Module, inputs: object, output: torch.Tensor) -> None:
            rows.append(
                LayerRow(
                    name=name,
                    kind=type(module).__name__,
                    output_shape=tuple(output.shape[1:]),
                    parameters=sum(p.numel() for p in module.parameters(recurse=False)),
                    flops=_layer_flops(module, output),
                )
            )

        return hook

    for name, module in model.named_modules():
        if not list(module.children()):  # leaf layers only
            handles.append(module.register_forward_hook(make_hook(name)))
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, *image_shape), device=device))
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return ModelSummary(
        rows=tuple(rows),
        input_shape=tuple(image_shape),
        total_parameters=sum(p.numel() for p in model.parameters()),
        trainable_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad),
    )
