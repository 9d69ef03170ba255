"""The TP1 classifiers: shapes for any image size, the registry, the summary, and that each one can learn."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from drlab.common.errors import UsageError
from drlab.models import MODELS, ConvGroupCNN, build_model, count_parameters, summarize
from drlab.models import groups as groups_module


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("shape", [(1, 28, 28), (1, 8, 8), (1, 16, 12), (3, 32, 32)])
def test_every_model_gives_one_logit_per_class_for_any_image_size(
    name: str, shape: tuple[int, int, int]
) -> None:
    model = build_model(name, shape, num_classes=7)
    logits = model(torch.randn(5, *shape))
    assert logits.shape == (5, 7)
    assert torch.isfinite(logits).all()


def test_mlp_is_784_256_128_10_on_fashion_mnist() -> None:
    model = build_model("mlp", (1, 28, 28), 10)
    # hand count: (784·256 + 256) + (256·128 + 128) + (128·10 + 10)
    assert count_parameters(model) == 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10
    softmax = build_model("softmax", (1, 28, 28), 10)
    assert count_parameters(softmax) == 784 * 10 + 10


def test_registry_refuses_unknown_models_and_bad_dropout() -> None:
    with pytest.raises(UsageError, match="unknown model 'resnet'"):
        build_model("resnet", (1, 28, 28), 10)
    with pytest.raises(UsageError, match="dropout"):
        build_model("mlp", (1, 28, 28), 10, dropout=1.5)


def test_pooling_before_relu_is_the_same_function_and_gradient() -> None:
    # the CNNs apply max-pool then ReLU; the textbook order is ReLU then max-pool: check they agree
    z = torch.randn(4, 8, 10, 10, dtype=torch.float64, requires_grad=True)
    a = F.relu(F.max_pool2d(z, 2))
    (grad_a,) = torch.autograd.grad(a.sum(), z)
    b = F.max_pool2d(F.relu(z), 2)
    (grad_b,) = torch.autograd.grad(b.sum(), z)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(grad_a, grad_b)


def test_the_cnn_docstrings_describe_the_layers_in_their_order() -> None:
    # the docstrings say conv → pool → ReLU (the textbook says conv → ReLU → pool): hold them to the code
    cnn = build_model("cnn", (1, 28, 28), 10)
    kinds = [type(layer).__name__ for layer in cnn.features]
    assert kinds == ["Conv2d", "MaxPool2d", "ReLU"] * 2
    assert "conv3×3 → maxpool 2×2 → ReLU" in " ".join((type(cnn).__doc__ or "").split())
    cnn_bn = build_model("cnn-bn", (1, 28, 28), 10)
    kinds = [type(layer).__name__ for block in cnn_bn.features for layer in block]
    assert kinds == ["Conv2d", "BatchNorm2d", "MaxPool2d", "ReLU"] * 3
    assert "conv → BatchNorm → maxpool → ReLU" in " ".join((type(cnn_bn).__doc__ or "").split())


@pytest.mark.parametrize("name", sorted(MODELS))
def test_summary_counts_match_pytorch_and_flops_match_a_hand_count(name: str) -> None:
    model = build_model(name, (1, 28, 28), 10)
    summary = summarize(model, (1, 28, 28))
    assert summary.total_parameters == sum(p.numel() for p in model.parameters())
    assert sum(row.parameters for row in summary.rows) == summary.total_parameters
    assert summary.rows[-1].output_shape == (10,)
    assert "total parameters" in summary.table()
    if name == "cnn":  # conv 1→32 on 28×28, conv 32→64 on 14×14, linear 3136→128, linear 128→10
        expected = 2 * (9 * 1 * 32 * 28 * 28 + 9 * 32 * 64 * 14 * 14 + 3136 * 128 + 128 * 10)
        assert summary.forward_flops == expected


@pytest.mark.parametrize("name", sorted(MODELS))
def test_loss_decreases_on_a_fixed_batch(name: str) -> None:
    # the four steps on one fixed batch: a model that can learn drives its training loss down
    torch.manual_seed(0)
    x = torch.randn(32, 1, 8, 8)
    y = torch.randint(0, 10, (32,))
    model = build_model(name, (1, 8, 8), 10, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = F.cross_entropy(model(x), y)  # ❶ forward, ❷ loss
        loss.backward()  # ❸ gradients
        optimizer.step()  # ❹ update
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses


# ----------------------------------------------------------------------------- the speedruns' CNN
def test_a_conv_group_is_conv_pool_bn_relu_then_conv_bn_relu_as_its_docstring_says() -> None:
    model = build_model("cnn-fast", (1, 28, 28), 10)
    assert isinstance(model, ConvGroupCNN)
    for group in model.features:
        first = [type(layer).__name__ for layer in list(group)[:4]]
        second = [type(layer).__name__ for layer in group[4]]
        assert first == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU"] and second == [
            "Conv2d",
            "BatchNorm2d",
            "ReLU",
        ]
    described = " ".join((ConvGroupCNN.__doc__ or "").split())
    assert "conv → maxpool → BatchNorm → ReLU → conv → BatchNorm → ReLU" in described


@pytest.mark.parametrize(
    ("name", "widths", "total"), [("cnn-fast", (16, 32, 64), 222_298), ("cnn-deep", (32, 64, 128), 584_618)]
)
def test_group_cnns_shapes_and_parameter_counts_are_those_their_docstring_gives(
    name: str, widths: tuple[int, int, int], total: int
) -> None:
    model = build_model(name, (1, 28, 28), 10)
    assert isinstance(model, ConvGroupCNN)
    x = torch.randn(3, 1, 28, 28)
    shapes = []
    for group in model.features:
        x = group(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(widths[0], 14, 14), (widths[1], 7, 7), (widths[2], 3, 3)]
    # hand count: two 3×3 convolutions per group (no bias), a batch norm (weight, bias) after each, then
    # the classifier last width·3·3 → 256 → 10
    previous, expected = 1, 0
    for width in widths:
        expected += 9 * previous * width + 9 * width * width + 2 * (2 * width)
        previous = width
    expected += (widths[2] * 3 * 3 * 256 + 256) + (256 * 10 + 10)
    assert count_parameters(model) == expected == total
    assert f"{total:,} parameters" in " ".join((groups_module.__doc__ or "").split())
