"""Video through the architectures: the CRNN (a conv encoder per frame, a GRU over the frames), the CNN
averaging its frames, and the recurrent nets reading each frame's pixels as one step.

Datasets are the tiny numpy fakes of ``test_models``; the recipe-level refusals use the real
``moving_digits``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from engine.config.errors import RecipeError
from engine.config.recipe import load_recipe
from engine.models import capabilities
from engine.models.base import to_sequence
from tests.engine.test_models import batch, build, fake_data

T, C, H, W = 3, 1, 6, 6  # test_models.SHAPES["video"]


def test_the_crnn_builds_and_gives_one_row_of_logits_per_clip():
    data = fake_data("video", n_classes=4)
    model = build("crnn", data=data)
    assert model(batch(data)).shape == (8, 4)
    assert model.gru.input_size == 16 * (H // 2) * (W // 2)  # each frame's pooled map, flattened: its layout kept
    assert model.gru.hidden_size == 16 and model.gru.num_layers == 1
    assert model.describe().startswith("2-layer relu CRNN, width 16, ")


def test_crnn_param_layers_run_from_the_frames_through_the_gru_to_the_head():
    model = build("crnn", "video", depth=3, norm="batch")
    layers = model.param_layers()
    assert [n for n, _ in layers] == ["conv.0", "conv.1", "conv.2", "gru.ih_l0", "gru.hh_l0", "head"]
    # Exactly the weight matrices/kernels: no biases, no norm parameters, nothing missed.
    assert {id(p) for _, p in layers} == {id(p) for p in model.parameters() if p.ndim >= 2}


def test_crnn_activation_hooks_see_every_frames_feature_maps():
    model = build("crnn", "video", depth=2, activation="tanh")
    acts = model.activation_layers()
    assert [(n, f) for n, _, f in acts] == [("conv.0", "saturating"), ("conv.1", "saturating")]
    seen = {}
    for name, module, _ in acts:
        module.register_forward_hook(lambda m, i, out, name=name: seen.update({name: out.shape}))
    model(torch.zeros(4, T, C, H, W))
    assert seen == {"conv.0": (4 * T, 16, H, W), "conv.1": (4 * T, 16, H // 2, W // 2)}  # N*T frames
    assert model.explain_layers() == []  # Captum attributes clips, not frames


def test_the_crnn_knobs_change_its_conv_blocks():
    types = [type(m) for m in build("crnn", "video", depth=3, norm="batch", dropout=0.2).modules()]
    assert types.count(nn.BatchNorm2d) == 3 and types.count(nn.Dropout2d) == 3 and types.count(nn.Dropout) == 1
    assert [type(m) for m in build("crnn", "video", depth=3, norm="layer").modules()].count(nn.GroupNorm) == 3
    residual = build("crnn", "video", depth=3, residual=True)
    assert [b.residual for b in residual.conv] == [False, True, True]  # block 0 changes the channels


def test_a_few_sgd_steps_reduce_the_crnns_loss():
    data = fake_data("video")
    model = build("crnn", data=data, init="he_normal")
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.8 * losses[0]


@pytest.mark.parametrize("kind", ["tabular", "image", "sequence"])
def test_the_crnn_refuses_data_that_is_not_video(kind):
    with pytest.raises(RecipeError) as err:
        build("crnn", kind)
    assert str(err.value).startswith("model.arch: crnn needs video"), str(err.value)
    assert "try data.name: moving_digits" in str(err.value)


def test_the_recipe_refuses_the_crnn_on_images_naming_the_key():
    with pytest.raises(RecipeError, match=r"^model\.arch: crnn needs video .* dataset 'digits' is image"):
        load_recipe(None, {"data.name": "digits", "model.arch": "crnn"})
    caps = capabilities("crnn")
    assert caps.norms == ("none", "batch", "layer") and caps.try_data == "moving_digits"


def test_the_cnn_on_video_averages_its_frames_so_it_is_blind_to_their_order():
    data = fake_data("video")
    cnn, crnn = build("cnn", data=data).eval(), build("crnn", data=data).eval()
    x = batch(data)
    backwards = x.flip(1)
    assert torch.allclose(cnn(x), cnn(backwards), atol=1e-6)  # played backwards: the same answer
    assert not torch.allclose(crnn(x), crnn(backwards), atol=1e-3)  # the GRU reads the frames in order
    # A clip of one image repeated is that image: the same stack per frame, then the mean over frames.
    image = x[:, 0]
    assert torch.allclose(cnn(image.unsqueeze(1).expand(-1, T, -1, -1, -1)), cnn(image), atol=1e-6)


def test_the_cnn_keeps_its_image_path():
    model = build("cnn", "image", depth=2)
    assert model(torch.zeros(3, 1, 8, 8)).shape == (3, 3)
    assert [n for n, _ in model.param_layers()] == ["conv.0", "conv.1", "head"]


@pytest.mark.parametrize("arch", ["rnn", "lstm", "gru"])
def test_recurrent_nets_read_a_clip_frame_by_frame_each_frames_pixels_one_step(arch):
    x = torch.arange(2 * T * C * H * W, dtype=torch.float32).reshape(2, T, C, H, W)
    seq = to_sequence(x)
    assert seq.shape == (2, T, C * H * W)
    assert torch.equal(seq[:, 1], x[:, 1].reshape(2, -1))
    model = build(arch, "video")
    assert model.recurrent.input_size == C * H * W
    assert model(x).shape == (2, 3)


@pytest.mark.parametrize("arch", ["crnn", "cnn"])
def test_channels_last_gives_the_same_answer_on_video(arch):
    """train.channels_last converts the 4-d conv weights; the clips stay (N, T, C, H, W) and read the same."""
    data = fake_data("video")
    model = build(arch, data=data).eval()
    x = batch(data)
    before = model(x)
    model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    assert model.conv[0].layer.weight.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(model(x), before, atol=1e-5)
    assert capabilities(arch).channels_last
