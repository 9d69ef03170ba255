"""The lecture's pitfalls and tensor basics, replayed through drlab.linreg.pitfalls."""

from __future__ import annotations

import pytest
import torch

from drlab.linreg import pitfalls


def test_tensor_basics() -> None:
    basics = pitfalls.tensor_basics()
    assert basics.view_shape == (1, 6) and basics.view_shares_memory
    assert basics.resized_shape == (2, 3)
    assert basics.add_in_place_same_object and not basics.add_out_of_place_same_object
    assert basics.requires_grad_after_toggle == (True, False)
    assert basics.grad_fn_names == {
        "yhat": "AddBackward0",
        "error": "SubBackward0",
        "squared": "PowBackward0",
        "loss": "MeanBackward0",
    }


def test_slide_gradients_match_the_hand_derivation_and_the_slide() -> None:
    grads = pitfalls.slide_gradients()
    assert grads.autograd == pytest.approx(grads.by_hand, abs=1e-5)  # float32 vs float64
    # the slide prints dMSE/da tensor([-3.1019]), dMSE/db tensor([-1.8132]), then a = tensor([0.6469])
    assert round(grads.by_hand[0], 4) == -3.1019 and round(grads.by_hand[1], 4) == -1.8132
    assert grads.a_after_update == pytest.approx(grads.a - 0.1 * grads.autograd[0], abs=1e-7)
    assert round(grads.a_after_update, 4) == 0.6469


def test_reassigning_a_parameter_loses_its_gradient() -> None:
    outcome = pitfalls.reassign_parameter()
    assert outcome.grad_before == pytest.approx(pitfalls.slide_gradients().autograd[0])
    assert outcome.grad_after is None
    assert not outcome.is_leaf_after
    assert isinstance(outcome.error, AttributeError) and "zero_" in str(outcome.error)


def test_in_place_update_of_a_leaf_needs_no_grad() -> None:
    outcome = pitfalls.inplace_update_outside_no_grad()
    assert isinstance(outcome.error, RuntimeError)
    assert "leaf Variable that requires grad" in str(outcome.error)
    assert outcome.a_after_no_grad == pytest.approx(pitfalls.slide_gradients().a_after_update)


def test_the_in_place_rule_is_about_the_leaf_not_the_graph() -> None:
    """The same error with no forward pass at all; the 'modified by an inplace operation' one is another rule."""
    leaf = torch.randn(1, requires_grad=True)
    with pytest.raises(RuntimeError) as no_graph:
        leaf -= 1.0
    assert str(no_graph.value) == str(pitfalls.inplace_update_outside_no_grad().error)

    b = torch.randn(1, requires_grad=True)
    x = torch.ones(3)  # no gradient wanted for x: changing it in place is allowed…
    loss = (b * x).sum()  # …but b * x saved x for ∂/∂b
    x.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_gradients_accumulate_until_zeroed() -> None:
    outcome = pitfalls.gradients_accumulate()
    assert outcome.second == pytest.approx(2 * outcome.first)
    assert outcome.first != 0 and outcome.after_zero == 0.0


def test_detach() -> None:
    outcome = pitfalls.detach_parameter()
    assert outcome.requires_grad is False and outcome.grad is None
    assert round(outcome.value, 4) == 0.6469
    assert outcome.shares_memory  # not a copy: a view outside the graph


def test_numpy_bridge_shares_memory() -> None:
    outcome = pitfalls.numpy_bridge()
    assert outcome.from_numpy_shares and outcome.numpy_shares
    assert not outcome.float_cast_shares
